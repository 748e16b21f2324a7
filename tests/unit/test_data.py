import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from ticketlab.config import DataConfig
from ticketlab.data.datasets import load_dataset, subset_indices
from ticketlab.data.idx import IDX_FILES, read_idx
from ticketlab.errors import DataError


def write_idx(
    path: Path, arr: np.ndarray, magic: int | None = None, compress: bool = True, cut: int = 0
) -> None:
    code = magic if magic is not None else (0x0801 if arr.ndim == 1 else 0x0803)
    blob = struct.pack(">I", code) + struct.pack(f">{arr.ndim}I", *arr.shape)
    blob += arr.astype(np.uint8).tobytes()
    blob = blob[: len(blob) - cut]
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(blob)
    else:
        path.write_bytes(blob)


def write_dataset(folder: Path, n_train: int = 50, n_test: int = 20, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        stem = "train" if split == "train" else "t10k"
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))


def test_split_is_deterministic_and_disjoint(tmp_path: Path) -> None:
    write_dataset(tmp_path, n_train=100)
    cfg = DataConfig(val_size=30)
    a, b = load_dataset(cfg, tmp_path, download=False), load_dataset(cfg, tmp_path, False)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.val.x, b.val.x)
    assert (len(a.train), len(a.val)) == (70, 30)
    rows = {tuple(r.tolist()) for r in a.train.x} & {tuple(r.tolist()) for r in a.val.x}
    assert not rows
    c = load_dataset(DataConfig(val_size=30, split_seed=1), tmp_path, False)
    assert not torch.equal(a.val.x, c.val.x)
    sub = load_dataset(DataConfig(val_size=30, train_subset=10), tmp_path, False)
    assert len(sub.train) == 10 and torch.equal(sub.val.x, a.val.x)


@pytest.mark.parametrize("layout", ["", "mnist", "MNIST/raw"])
def test_lookup_layouts(tmp_path: Path, layout: str) -> None:
    write_dataset(tmp_path / layout)
    ds = load_dataset(DataConfig(val_size=10), tmp_path, download=False)
    assert len(ds.train) == 40 and len(ds.test) == 20


def test_uncompressed_files_and_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    for stem in IDX_FILES.values():
        shape = (30, 28, 28) if "images" in stem else (30,)
        write_idx(tmp_path / stem, rng.integers(0, 10, shape), compress=False)
    monkeypatch.setenv("TICKETLAB_DATA", str(tmp_path))
    assert len(load_dataset(DataConfig(val_size=5), None, download=False).train) == 25


def test_missing_files_name_files_and_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETLAB_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(), None, download=False)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    cache = Path(os.environ["TICKETLAB_CACHE"])
    for place in (tmp_path / "env", tmp_path / "env" / "MNIST" / "raw", cache / "mnist", cache):
        assert f"  {place}\n" in msg
    assert msg.index(str(tmp_path / "env")) < msg.index(str(cache))
    assert "TICKETLAB_DATA" in msg


def test_an_explicit_data_dir_is_the_only_place_looked_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in --data-dir must not silently fall back to other data."""
    write_dataset(tmp_path / "env")  # MNIST is there, but not where the user pointed
    monkeypatch.setenv("TICKETLAB_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError, match=r"--data-dir \S*typo does not exist"):
        load_dataset(DataConfig(val_size=10), tmp_path / "typo")
    (tmp_path / "empty").mkdir()
    for name in ("mnist", "cifar10"):
        with pytest.raises(DataError) as e:
            load_dataset(DataConfig(val_size=10), tmp_path / "empty", name=name)
        msg = str(e.value)
        assert f"not found in --data-dir {tmp_path / 'empty'}" in msg
        assert str(tmp_path / "env") not in msg and "only place looked in" in msg
    assert len(load_dataset(DataConfig(val_size=10), tmp_path / "env").train) == 40


def test_stratified_subsets_hold_every_class_in_proportion(tmp_path: Path) -> None:
    """Test set sorted by class (as an image folder's is): the first N would be one class."""
    rng = np.random.default_rng(0)
    y_tr = rng.integers(0, 4, 400)
    y_te = np.repeat(np.arange(4), [40, 30, 20, 10])  # sorted by class, unequal
    cfg = DataConfig(val_size=50, train_subset=100, test_subset=50)
    tr, val, te = subset_indices(y_tr, y_te, cfg)
    assert np.bincount(y_te[te.numpy()], minlength=4).tolist() == [20, 15, 10, 5]
    counts = np.bincount(y_tr[tr.numpy()], minlength=4)
    full = np.bincount(y_tr[np.setdiff1d(np.arange(400), val.numpy())], minlength=4)
    assert counts.sum() == 100 and (np.abs(counts - full * 100 / full.sum()) < 1).all()
    assert not set(tr.tolist()) & set(val.tolist())
    again = subset_indices(y_tr, y_te, cfg)
    assert all(torch.equal(a, b) for a, b in zip(again, (tr, val, te), strict=True))
    other = subset_indices(y_tr, y_te, DataConfig(val_size=50, test_subset=50, split_seed=1))
    assert not torch.equal(other[2], te)
    old = subset_indices(
        y_tr, y_te, DataConfig(val_size=50, test_subset=50, subset_sampling="legacy")
    )
    assert old[2].tolist() == list(range(50))  # protocol 1: the first N


def test_wrong_magic(tmp_path: Path) -> None:
    write_idx(tmp_path / "x.gz", np.zeros(5), magic=0x0802)
    with pytest.raises(DataError, match=r"x.gz: bad IDX magic number 0x00000802"):
        read_idx(tmp_path / "x.gz")


def test_truncated_payload(tmp_path: Path) -> None:
    write_idx(tmp_path / "x.gz", np.zeros((4, 28, 28)), cut=100)
    with pytest.raises(
        DataError,
        match=r"header says 4x28x28 = 3136 bytes of data but the file"
        r" holds 3036",
    ):
        read_idx(tmp_path / "x.gz")


def test_truncated_gzip(tmp_path: Path) -> None:
    write_idx(tmp_path / "x.gz", np.zeros((40, 28, 28)))
    blob = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        read_idx(tmp_path / "x.gz")


def test_mismatched_counts(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(49))
    with pytest.raises(DataError, match=r"holds 50 images but .* holds 49 labels"):
        load_dataset(DataConfig(val_size=10), tmp_path, download=False)
