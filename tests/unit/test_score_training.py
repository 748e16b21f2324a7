"""Training masks instead of weights: top-k, the straight-through gradients, biprop's gain,
the Bernoulli mask, frozen weights, the cohort against each member alone, checkpoints."""

import copy
from pathlib import Path

import pytest
import torch

from ticketlab.config import TrainConfig
from ticketlab.data.datasets import Dataset, Split
from ticketlab.models.mlp import MLPSpec, init_params
from ticketlab.store.files import FileCheckpoint
from ticketlab.train.scores import (
    Near,
    ScoreMember,
    effective,
    kaiming_uniform_scores,
    score_setting,
    top_k_mask,
    train_scores,
)

SPEC = MLPSpec((16, 8, 4))


def _data() -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (120, 16), generator=g, dtype=torch.uint8)
    y = (x[:, :4].float().argmax(1)).long()  # learnable: the brightest of four pixels
    s = Split(x, y)
    return Dataset("toy", s, s, s, 0.5, 0.3, 4, (1, 4, 4))


def _member(seed: int, keep: float, ds: Dataset) -> ScoreMember:
    weights = init_params(SPEC, "pytorch_default", seed)
    names = ["fc1.weight", "fc2.weight"]
    scores = {k: kaiming_uniform_scores(weights[k].shape, seed + 7) for k in names}
    return ScoreMember(
        weights, scores, {k: round(keep * weights[k].numel()) for k in names}, ds, seed
    )


def test_top_k_is_exact_per_member_with_ties_to_the_lower_index() -> None:
    scores = torch.tensor([[3.0, 1.0, 3.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
    mask = top_k_mask(scores, torch.tensor([2, 3]))
    assert mask.tolist() == [[True, False, True, False], [True, True, True, False]]
    # The training step's floating mask is the same selection, as 1 and 0.
    as_float = top_k_mask(scores, torch.tensor([2, 3]), dtype=torch.float32)
    assert as_float.dtype == torch.float32 and torch.equal(as_float.bool(), mask)


def test_top_k_from_a_previous_threshold_is_the_same_selection() -> None:
    """The band around last step's k-th largest: inside it, off it (the fallback), ties."""
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(3, 5000, generator=g)
    scores[2, :100] = 0.5  # a tie at the boundary
    keep = torch.tensor([700, 2500, 2540])
    want = top_k_mask(scores, keep)
    first = float(torch.kthvalue(scores[0], 5000 - 700 + 1).values)
    near = Near([first * 1.001, 0.9, 0.5], [first * 0.001, 0.01, 0.0])
    assert torch.equal(top_k_mask(scores, keep, near), want)
    assert torch.equal(top_k_mask(scores + 1e-4, keep, near), top_k_mask(scores + 1e-4, keep))
    assert int(want[2].sum()) == 2540
    near = Near([first * 1.001, 0.9, 0.5], [first * 0.001, 0.01, 0.0])
    assert torch.equal(top_k_mask(scores, keep, near, torch.float32).bool(), want)


def test_edgepopup_passes_dl_dweff_times_w_times_sign_s_to_every_score() -> None:
    """W = [2, -3], s = [0.5, -0.1], keep 1: the mask keeps W[0]; L = W_eff . x with
    x = [1, 4], so dL/dW_eff = x and ds = x * W * sign(s) = [2, 12], the pruned score too."""
    w = torch.tensor([[[2.0, -3.0]]])
    s = torch.tensor([[[0.5, -0.1]]], requires_grad=True)
    eff, hard = effective("edgepopup", w, s, torch.tensor([1]))
    assert eff.tolist() == [[[2.0, 0.0]]] and hard.tolist() == [[[True, False]]]
    (eff * torch.tensor([1.0, 4.0])).sum().backward()
    assert s.grad is not None and s.grad.tolist() == [[[2.0, 12.0]]]


def test_biprop_uses_the_mean_kept_magnitude_times_the_sign() -> None:
    w = torch.tensor([[2.0, -3.0, 1.0, -4.0]])
    s = torch.tensor([[0.9, 0.1, -0.8, 0.2]], requires_grad=True)
    eff, _ = effective("biprop", w, s, torch.tensor([2]))
    # Kept: W[0] and W[2] (|s| 0.9, 0.8); gain (2 + 1) / 2 = 1.5.
    assert eff.tolist() == [[1.5, -0.0, 1.5, -0.0]]
    eff.sum().backward()  # d/ds = gain * sign(W) * sign(s), no gradient through the gain
    assert s.grad is not None and s.grad.tolist() == [[1.5, -1.5, -1.5, -1.5]]


def test_bernoulli_samples_from_the_sigmoid_and_ends_at_its_threshold() -> None:
    w = torch.ones(1, 4)
    s = torch.tensor([[30.0, -30.0, 30.0, -30.0]])
    eff, _ = effective("bernoulli", w, s, torch.tensor([0]), [torch.Generator().manual_seed(1)])
    assert eff.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    ds = _data()
    cfg = TrainConfig(optimizer="sgd", lr=0.5, momentum=0.9, batch_size=40, epochs=2, eval_every=3)
    (res,) = train_scores([_member(0, 0.5, ds)], SPEC, cfg, "bernoulli", torch.device("cpu"))
    for k, m in res.mask.items():
        assert torch.equal(m, res.scores[k] > 0)
    assert res.sampled_test_acc is not None and 0 <= res.sampled_test_acc <= 1


@pytest.mark.parametrize("method", ["edgepopup", "biprop", "bernoulli"])
def test_a_cohort_trains_each_member_as_alone_and_never_moves_a_weight(method: str) -> None:
    ds = _data()
    cfg = TrainConfig(optimizer="sgd", lr=0.2, momentum=0.9, batch_size=40, epochs=3, eval_every=3)
    members = [_member(0, 0.3, ds), _member(1, 0.5, ds)]
    before = [{k: v.clone() for k, v in m.weights.items()} for m in members]
    cpu, f64 = torch.device("cpu"), torch.float64
    together = train_scores(members, SPEC, cfg, method, cpu, dtype=f64)
    for m, b, t in zip(members, before, together, strict=True):
        (alone,) = train_scores([m], SPEC, cfg, method, cpu, dtype=f64)
        assert all(torch.equal(m.weights[k], b[k]) for k in b)  # frozen, bit for bit
        for k in t.scores:
            assert torch.allclose(t.scores[k], alone.scores[k], atol=1e-10, rtol=0)
            assert not torch.equal(t.scores[k], m.scores[k].double())  # the scores trained
            if method != "bernoulli":
                assert int(t.mask[k].sum()) == m.keep[k]  # exactly the target count
        assert [e.test_acc for e in t.evals] == pytest.approx([e.test_acc for e in alone.evals])
    assert together[0].evals[0].step == 0 and together[0].evals[-1].step == 9


class _Memory:
    """A checkpoint kept in memory, every saved state kept."""

    def __init__(self, start: dict | None = None) -> None:
        self.states: list[dict] = []
        self.start = start

    def load(self) -> dict | None:
        return self.start

    def save(self, state: dict) -> None:
        self.states.append(copy.deepcopy(state))

    def clear(self) -> None:
        self.states.clear()


@pytest.mark.parametrize("method", ["edgepopup", "bernoulli"])
def test_score_training_resumed_from_a_checkpoint_ends_as_if_never_interrupted(
    method: str, tmp_path: Path
) -> None:
    ds = _data()
    cfg = TrainConfig(optimizer="sgd", lr=0.2, momentum=0.9, batch_size=40, epochs=3, eval_every=2)
    members = [_member(0, 0.3, ds), _member(1, 0.5, ds)]
    cpu, f64 = torch.device("cpu"), torch.float64
    memory = _Memory()
    whole = train_scores(
        members, SPEC, cfg, method, cpu, dtype=f64, checkpoint=memory, checkpoint_every_s=0
    )
    mid = next(s for s in memory.states if s["step"] == 4)  # mid-epoch (3 steps an epoch)
    on_disk = FileCheckpoint(tmp_path / "checkpoints" / "c.pt")  # as runs keep it
    on_disk.save(mid)
    resumed = train_scores(members, SPEC, cfg, method, cpu, dtype=f64, checkpoint=on_disk)
    for a, b in zip(whole, resumed, strict=True):
        assert all(torch.equal(a.scores[k], b.scores[k]) for k in a.scores)
        assert all(torch.equal(a.mask[k], b.mask[k]) for k in a.mask)
        assert [e.test_acc for e in a.evals] == [e.test_acc for e in b.evals]
        assert a.sampled_test_acc == b.sampled_test_acc


def test_bernoulli_logits_train_without_weight_decay() -> None:
    """Decay pulls every logit towards 0 and every mask probability towards one half (at Zhou
    et al.'s lr 100 it held the masks there); edge-popup's and biprop's scores keep it, as
    only their order matters."""
    train = TrainConfig(batch_size=60, epochs=3, eval_every=50)
    assert score_setting(train, 100.0, 10, "bernoulli").weight_decay == 0.0
    for method in ("edgepopup", "biprop"):
        got = score_setting(train, 1.0, 10, method)
        assert (got.weight_decay, got.momentum, got.optimizer, got.epochs) == (5e-4, 0.9, "sgd", 10)
