import numpy as np
import torch

from ticketlab.config import DataConfig, MaxGroupConfig
from ticketlab.data.datasets import load_dataset
from ticketlab.data.maxgroup import generate, group_matrix


def test_groups_partition_the_pixels() -> None:
    g = group_matrix(10, seed=3, equal=False)
    assert (g.sum(1) == 1).all()
    assert sorted(g.sum(0).tolist()) == [78] * 6 + [79] * 4
    assert not torch.equal(g, group_matrix(10, seed=4, equal=False))


def test_equal_groups_leave_the_remainder_in_no_group() -> None:
    g = group_matrix(10, seed=3)
    assert g.sum(0).tolist() == [78] * 10
    assert sorted(g.sum(1).tolist()) == [0] * 4 + [1] * 780


def test_equal_groups_balance_the_classes_uneven_ones_do_not() -> None:
    _, y, _, _ = generate(60_000, 1, 10, seed=0)
    share = np.bincount(y, minlength=10) / len(y)
    assert np.abs(share - 0.1).max() < 0.005  # binomial sd 0.0012: 4 sd
    _, y_old, _, _ = generate(60_000, 1, 10, seed=0, equal=False)
    old = np.bincount(y_old, minlength=10) / len(y_old)
    big = group_matrix(10, seed=0, equal=False).sum(0).numpy() == 79
    assert old[big].min() > 0.11 and old[~big].max() < 0.095


def test_labels_are_the_argmax_of_group_sums_and_deterministic() -> None:
    xtr, ytr, xte, yte = generate(500, 200, 10, seed=7)
    assert xtr.shape == (500, 784) and xtr.dtype == np.uint8 and xte.shape == (200, 784)
    member = group_matrix(10, seed=7).numpy().astype(bool)  # [pixel, group]
    for x, y in ((xtr, ytr), (xte, yte)):
        sums = np.stack([x[:, member[:, k]].astype(np.int64).sum(1) for k in range(10)], 1)
        assert (y == sums.argmax(1)).all()
    again = generate(500, 200, 10, seed=7)
    assert all((a == b).all() for a, b in zip(again, (xtr, ytr, xte, yte), strict=True))
    other = generate(500, 200, 10, seed=8)
    assert not (other[0] == xtr).all()
    assert len(set(ytr.tolist())) == 10
    assert 110 < xtr.mean() < 145  # uniform pixels, mean 127.5


def test_maxgroup_dataset_through_the_registry() -> None:
    ds = load_dataset(
        DataConfig(val_size=100),
        name="maxgroup",
        maxgroup_cfg=MaxGroupConfig(train_size=600, test_size=50, groups=4),
    )
    assert (len(ds.train), len(ds.val), len(ds.test), ds.num_classes) == (500, 100, 50, 4)
