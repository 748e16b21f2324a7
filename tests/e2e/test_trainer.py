from pathlib import Path

import pytest
import torch

from ticketlab.config import PruneConfig, TrainConfig
from ticketlab.data.datasets import Dataset
from ticketlab.models.mlp import MLPSpec, init_params
from ticketlab.pruning.magnitude import full_mask, prune
from ticketlab.store.files import FileCheckpoint
from ticketlab.train.cohort import Member, Progress, train_cohort

SPEC = MLPSpec((784, 300, 100, 10))
CPU = torch.device("cpu")
F64 = torch.float64


def members(data: Dataset, n: int) -> list[Member]:
    out = []
    for i in range(n):
        mask = full_mask(SPEC)
        for r in range(i):  # member i has been pruned i times: different masks
            mask = prune(
                init_params(SPEC, "glorot_normal", 100 + r),
                mask,
                SPEC,
                PruneConfig(p_final=None, rate=0.5, rounds=4),
                seed=r,
            )
        out.append(Member(init_params(SPEC, "pytorch_default", i), mask, data, data_seed=7 * i))
    return out


@pytest.mark.parametrize(
    "cfg",
    [
        TrainConfig(optimizer="adam", lr=1.2e-3, batch_size=64, steps=40, eval_every=15),
        TrainConfig(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=50, steps=40, eval_every=15),
    ],
    ids=["adam", "sgd-momentum"],
)
@pytest.mark.parametrize("kernels", [(0.0, 0.0), (1.0, 1.0)], ids=["dense", "sparse"])
def test_cohort_equals_training_each_alone(
    mnist_small: Dataset, cfg: TrainConfig, kernels: tuple[float, float]
) -> None:
    # The kernels are pinned: left to choose, a member's own density could pick other
    # kernels alone than in the cohort (equal only to float rounding; tested below). In
    # float64: a cohort's batched products may sum in another order than one network's, and
    # how float32 rounding then grows over training depends on the CPU's kernels. In float64
    # that rounding is ~1e-16, so any real coupling between members (1e-4 and up) would show.
    ms = members(mnist_small, 4)
    together = train_cohort(ms, SPEC, cfg, CPU, sparse_below=kernels, dtype=F64)
    for m, res in zip(ms, together, strict=True):
        (alone,) = train_cohort([m], SPEC, cfg, CPU, sparse_below=kernels, dtype=F64)
        for k in res.weights:
            torch.testing.assert_close(res.weights[k], alone.weights[k], rtol=1e-9, atol=1e-10)
        assert [e.step for e in res.evals] == [0, 15, 30, 40]
        for a, b in zip(res.evals, alone.evals, strict=True):
            assert a.test_acc == b.test_acc
            assert a.val_loss == pytest.approx(b.val_loss, rel=1e-9)
            assert a.sign_flips == b.sign_flips


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_pruned_weights_stay_exactly_zero(mnist_small: Dataset, optimizer: str) -> None:
    cfg = TrainConfig(
        optimizer=optimizer, lr=0.01, momentum=0.9, batch_size=64, steps=30, eval_every=30
    )
    ms = members(mnist_small, 3)
    for m, res in zip(ms, train_cohort(ms, SPEC, cfg, CPU), strict=True):
        for k, mask in m.mask.items():
            assert (res.weights[k][~mask] == 0).all()
            moved = (res.weights[k][mask] != m.init[k][mask]).float().mean()
            assert moved > 0.5, "surviving weights should train"


@pytest.mark.parametrize("kernels", [(0.0, 0.0), (1.0, 1.0)], ids=["dense", "sparse"])
def test_same_seed_same_numbers_other_order_other_numbers(
    mnist_small: Dataset, kernels: tuple[float, float]
) -> None:
    cfg = TrainConfig(batch_size=64, steps=25, eval_every=25)
    m = members(mnist_small, 3)[2]  # pruned twice: the sparse kernels have work to do
    a, b = (train_cohort([m], SPEC, cfg, CPU, sparse_below=kernels)[0] for _ in range(2))
    assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert a.evals == b.evals
    other = Member(m.init, m.mask, m.data, data_seed=m.data_seed + 1)
    c = train_cohort([other], SPEC, cfg, CPU, sparse_below=kernels)[0]
    assert not torch.equal(a.weights["fc1.weight"], c.weights["fc1.weight"])


def test_training_learns_and_records_early_stopping(mnist_small: Dataset) -> None:
    cfg = TrainConfig(batch_size=100, epochs=2, eval_every=10)
    (res,) = train_cohort(members(mnist_small, 1), SPEC, cfg, CPU)
    assert res.evals[0].step == 0 and res.evals[-1].step == 40  # 2000 / 100 x 2 epochs
    assert res.evals[0].test_acc < 0.2 < 0.8 < res.final.test_acc
    es = res.early_stop
    assert es.val_loss == min(e.val_loss for e in res.evals)


def test_capture_step_gives_the_weights_after_that_many_steps(mnist_small: Dataset) -> None:
    m = members(mnist_small, 1)[0]
    m.capture_step = 12
    full = train_cohort([m], SPEC, TrainConfig(batch_size=64, steps=30, eval_every=30), CPU)[0]
    short = train_cohort([m], SPEC, TrainConfig(batch_size=64, steps=12, eval_every=12), CPU)[0]
    assert full.captured is not None
    assert all(torch.equal(full.captured[k], short.weights[k]) for k in short.weights)


def structured_masks(n: int) -> list[dict[str, torch.Tensor]]:
    """Sparse masks where whole inputs and hidden units are cut off, as deep IMP rounds
    produce, different per member."""
    out = []
    for i in range(n):
        g = torch.Generator().manual_seed(i)
        mask = {k: torch.rand(v.shape, generator=g) < 0.3 for k, v in full_mask(SPEC).items()}
        mask["fc1.weight"][:, : 300 + 20 * i] = False  # border pixels: no connections
        mask["fc2.weight"][:, : 150 + 10 * i] = False  # layer-1 units with no way out
        mask["fc3.weight"][:, : 40 + 5 * i] = False  # layer-2 units with no way out
        out.append(mask)
    return out


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize(
    "sparse_below", [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0)], ids=["dense", "sparse", "sparse-input"]
)
def test_compaction_and_sparse_kernels_give_the_same_training(
    mnist_small: Dataset, optimizer: str, sparse_below: tuple[float, float]
) -> None:
    from ticketlab.models.params import stack
    from ticketlab.train.compaction import plan_compaction

    ms = [
        Member(init_params(SPEC, "pytorch_default", i), mask, mnist_small, i, capture_step=7)
        for i, mask in enumerate(structured_masks(3))
    ]
    plan = plan_compaction(stack([m.mask for m in ms]), SPEC.n_layers)
    assert plan.size_fraction(SPEC.sizes) < 0.5, "the masks should let compaction engage"
    cfg = TrainConfig(
        optimizer=optimizer, lr=0.01, momentum=0.9, batch_size=64, steps=30, eval_every=10
    )
    # Compared in float64. Fewer terms per dot product, summed in another order, change the
    # rounding, and Adam divides each update by sqrt(v) + 1e-8, which magnifies a rounding
    # difference in a near-zero gradient up to lr/1e-8 times. In float32 that reached 2e-5 on
    # some CPUs; in float64 the same bound is ~1e-10 per step, so 1e-8 over 30 steps still
    # proves the paths compute the same training (a wrong or missing term shows at 1e-3).
    fast = train_cohort(ms, SPEC, cfg, CPU, compact=True, sparse_below=sparse_below, dtype=F64)
    plain = train_cohort(ms, SPEC, cfg, CPU, compact=False, sparse_below=(0.0, 0.0), dtype=F64)
    for m, a, b in zip(ms, fast, plain, strict=True):
        for k in a.weights:
            torch.testing.assert_close(a.weights[k], b.weights[k], rtol=1e-7, atol=1e-8)
            torch.testing.assert_close(a.captured[k], b.captured[k], rtol=1e-7, atol=1e-8)
        for k, mask in m.mask.items():
            assert (a.weights[k][~mask] == 0).all()
        for x, y in zip(a.evals, b.evals, strict=True):
            assert x.val_loss == pytest.approx(y.val_loss, rel=1e-9)
            assert x.test_acc == y.test_acc
            assert x.sign_flips == pytest.approx(y.sign_flips, abs=1e-12)


def test_compile_step_falls_back_to_eager_when_compiling_fails(
    mnist_small: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_compile(fn: object, **kw: object) -> object:
        def fail(*a: object) -> None:
            raise RuntimeError("no C++ compiler")

        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    cfg = TrainConfig(batch_size=64, steps=20, eval_every=20)
    m = members(mnist_small, 1)[0]
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler.*training eagerly"):
        (fallback,) = train_cohort([m], SPEC, cfg, CPU, compile_step=True)
    (eager,) = train_cohort([m], SPEC, cfg, CPU)
    assert all(torch.equal(fallback.weights[k], eager.weights[k]) for k in eager.weights)


def test_a_member_with_an_empty_layer_trains_beside_others(mnist_small: Dataset) -> None:
    """A fully pruned layer (all of one member's first-layer weights gone) must not break
    the sparse kernels or compaction for the rest of the cohort."""
    ms = members(mnist_small, 3)
    empty = {k: v.clone() for k, v in ms[1].mask.items()}
    empty["fc1.weight"][:] = False
    ms[1] = Member(ms[1].init, empty, mnist_small, 5)
    cfg = TrainConfig(batch_size=64, steps=10, eval_every=10)
    res = train_cohort(ms, SPEC, cfg, CPU, sparse_below=(1.0, 1.0), dtype=F64)
    assert (res[1].weights["fc1.weight"] == 0).all()
    assert res[1].final.sign_flips["fc1.weight"] == 0.0  # no kept weights: nothing flips
    (alone,) = train_cohort([ms[2]], SPEC, cfg, CPU, sparse_below=(1.0, 1.0), dtype=F64)
    torch.testing.assert_close(
        res[2].weights["fc2.weight"], alone.weights["fc2.weight"], rtol=1e-9, atol=1e-10
    )


def test_sign_flips_count_kept_weights_that_changed_sign(mnist_small: Dataset) -> None:
    """Hand-computed case: the recorded fractions equal counting, in the trained weights,
    the kept weights whose sign differs from the init, on the dense and sparse paths."""
    cfg = TrainConfig(optimizer="sgd", lr=0.5, batch_size=64, steps=20, eval_every=20)
    m = members(mnist_small, 3)[2]  # pruned twice: 25% of each layer kept
    for kernels in [(0.0, 0.0), (1.0, 1.0)]:
        (res,) = train_cohort([m], SPEC, cfg, CPU, sparse_below=kernels, dtype=F64)
        assert res.evals[0].sign_flips == dict.fromkeys(SPEC.weight_names(), 0.0)
        flipped = total = 0
        for k, mask in m.mask.items():
            changed = int(((res.weights[k].sign() != m.init[k].sign()) & mask).sum())
            assert res.final.sign_flips[k] == changed / int(mask.sum())
            flipped, total = flipped + changed, total + int(mask.sum())
        assert 0 < res.final.sign_flip == pytest.approx(flipped / total, abs=1e-12)


def test_sparse_first_layer_evaluation_equals_the_dense_one(mnist_small: Dataset) -> None:
    """Members on two datasets, interleaved, at ~6% density: the CSR evaluation of the
    first layer gives the dense evaluation's numbers (float64)."""
    import dataclasses

    other = dataclasses.replace(mnist_small)  # the same data as a second dataset (group)
    ms = members(mnist_small, 5)[1:]  # pruned 1-4 times: 50% down to 6.25% of weights
    ms = [Member(m.init, m.mask, other if i % 2 else m.data, m.data_seed) for i, m in enumerate(ms)]
    cfg = TrainConfig(batch_size=64, steps=20, eval_every=10)
    runs = [
        train_cohort(ms, SPEC, cfg, CPU, sparse_below=(1.0, 1.0), dtype=F64, sparse_eval_below=e)
        for e in (1.0, 0.0)
    ]
    for a, b in zip(*runs, strict=True):
        for x, y in zip(a.evals, b.evals, strict=True):
            assert x.val_loss == pytest.approx(y.val_loss, rel=1e-12)
            assert x.test_loss == pytest.approx(y.test_loss, rel=1e-12)
            assert (x.val_acc, x.test_acc) == (y.val_acc, y.test_acc)


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("kernels", [(0.0, 0.0), (1.0, 1.0)], ids=["dense", "sparse"])
def test_an_mlp_cohort_interrupted_mid_way_resumes_to_the_same_numbers(
    mnist_small: Dataset, kernels: tuple[float, float], tmp_path: Path
) -> None:
    # Adam (moments to restore), a schedule, the interruption in the second epoch (32
    # steps an epoch at batch 64 of 2,000 examples), late-resetting captures on both sides,
    # members pruned 0-3 times (compaction and block-sparse layers on "sparse").
    cfg = TrainConfig(
        optimizer="adam", lr=1e-3, batch_size=64, epochs=2, eval_every=10, milestones=[1]
    )
    ms = members(mnist_small, 4)
    for m, at in zip(ms, [3, 20, 35, 50], strict=True):
        m.capture_step = at
    straight = train_cohort(ms, SPEC, cfg, CPU, sparse_below=kernels)
    checkpoint = FileCheckpoint(tmp_path / "checkpoints" / "cohort.pt")

    def stop_at_40(p: Progress) -> None:
        if p.step == 40 and p.val_acc:  # the evaluation at step 40: saved up to step 39
            raise _Interrupt

    with pytest.raises(_Interrupt):
        train_cohort(
            ms, SPEC, cfg, CPU, stop_at_40, checkpoint, sparse_below=kernels, checkpoint_every_s=0
        )
    saved = checkpoint.load()
    assert saved is not None and saved["step"] == 39
    resumed = train_cohort(
        ms, SPEC, cfg, CPU, checkpoint=checkpoint, sparse_below=kernels, checkpoint_every_s=0
    )
    for a, b in zip(straight, resumed, strict=True):
        assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)
        assert a.captured is not None and b.captured is not None
        assert all(torch.equal(a.captured[k], b.captured[k]) for k in a.captured)
        assert a.evals == b.evals
        assert [e.step for e in b.evals] == [0, 10, 20, 30, 40, 50, 60, 64]
    with pytest.raises(ValueError, match="give one or the other"):
        train_cohort(ms, SPEC, cfg, CPU, checkpoint=checkpoint, on_epoch=lambda e, w: False)
