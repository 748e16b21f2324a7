"""Training masks instead of weights: a cohort of M networks whose weights stay frozen
while a score per weight trains, each member with its own frozen weights, scores, target
counts, data order and optimizer state.

Methods (``METHODS``), for every masked tensor W with scores s:

- ``edgepopup`` (Ramanujan et al. 2020): the mask keeps the ``keep`` weights of largest
  |s| (exact top-k per tensor; ties to the lower flat index); the network uses W x mask.
  The mask passes the gradient straight through to |s|, so every score, kept or not, gets
  dL/dW_eff x W, times sign(s) through the absolute value.
- ``biprop`` (Diffenderfer & Kailkhura 2021, multi-prize tickets): the same scores and
  mask, effective weights g x mask x sign(W) with the gain g the mean |W| of the kept
  weights, recomputed at every forward pass with no gradient through it. Their binary
  activations (MPT-1/1) are not offered.
- ``bernoulli`` (Zhou et al. 2019's supermask): s is a logit; every step samples the mask
  from Bernoulli(sigmoid(s)), passing the gradient straight through the sample to
  sigmoid(s). It has no target count: the mask it ends with is sigmoid(s) > 0.5, and the
  mean test accuracy of ``SAMPLES`` sampled masks is reported beside it. Dynamic weight
  rescaling is not offered.

Frozen weights are passed in as they are; biases and any other tensor stay frozen too.
Scores train with the member's optimizer setting under a cosine learning-rate schedule
over the whole training (hidden-networks' default). Batch norm is refused: the scores
would need it in training mode, which ``Architecture.apply`` does not run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.func import vmap

from ticketlab.config import TrainConfig
from ticketlab.data.datasets import Dataset
from ticketlab.errors import ConfigError
from ticketlab.models.mlp import MLPSpec
from ticketlab.models.params import Params, stack
from ticketlab.models.registry import Architecture
from ticketlab.train import optim
from ticketlab.train.members import (
    CHECKPOINT_EVERY_S,
    EVAL_CHUNK,
    PROGRESS_EVERY,
    Checkpoint,
    EvalPoint,
    Member,
    Progress,
    Saves,
    cohort_loss,
    epoch_order,
    loss_and_correct,
    order_generators,
)
from ticketlab.train.pool import Pool

METHODS = ("edgepopup", "biprop", "bernoulli")
SAMPLES = 10  # sampled Bernoulli masks whose mean test accuracy is reported
SAMPLE_SALT = 0x5A3B1E  # separates a member's mask samples from its data order


@dataclass
class ScoreMember:
    """One network whose mask trains: its frozen state, the initial scores of its masked
    tensors, how many weights each keeps (ignored by ``bernoulli``), its data and order."""

    weights: Params
    scores: Params
    keep: dict[str, int]
    data: Dataset
    data_seed: int


@dataclass
class ScoreResult:
    mask: dict[str, torch.Tensor]  # bool, by masked tensor
    scores: Params
    evals: list[EvalPoint]  # the frozen network under the mask of that step
    wall_time_s: float
    sampled_test_acc: float | None = None  # bernoulli: mean over SAMPLES sampled masks
    fit_mse: float | None = None  # with teachers: test-split MSE to the teacher's logits


def kaiming_uniform_scores(shape: torch.Size | tuple[int, ...], seed: int) -> torch.Tensor:
    """Initial scores: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), what ``kaiming_uniform_(a=sqrt(5))``
    draws (hidden-networks' score init)."""
    fan_in = math.prod(shape[1:])
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) * 2 - 1) / math.sqrt(fan_in)


@dataclass
class Near:
    """Where each member's k-th largest score was at the last step, and how far it moved
    then: the band ``top_k_mask`` searches first."""

    at: list[float]
    moved: list[float]

    @classmethod
    def unknown(cls, members: int) -> Near:
        return cls([math.nan] * members, [math.nan] * members)


def top_k_mask(
    scores: torch.Tensor,
    keep: torch.Tensor,
    near: Near | None = None,
    dtype: torch.dtype = torch.bool,
) -> torch.Tensor:
    """``[M, ...]`` masks keeping each member's ``keep[i]`` largest ``scores`` (exactly;
    equal scores to the lower flat index), of ``dtype``: a floating mask (1 kept, 0 not)
    is what the training step multiplies by, and CPU kernels compare into it, count it and
    multiply by it several times faster than a boolean one.

    Each member's k-th largest value is a selection, not a sort (a sort of LeNet-300-100's
    first layer cost 8x as much). With ``near`` (updated in place) the selection first
    tries the scores in a band around last step's k-th largest, four times as wide as its
    last move, counted by two comparisons; it falls back to all the scores when the k-th
    largest left the band."""
    flat = scores.detach().flatten(1)
    out = torch.empty_like(flat, dtype=dtype)
    count = _counter(dtype, flat.shape[1])
    for i, k in enumerate(keep.tolist()):
        _select(flat[i], k, out[i], count, near, i)
    return out.view_as(scores)


def _select(
    row: torch.Tensor,
    k: int,
    dst: torch.Tensor,
    count: Callable[[torch.Tensor], int],
    near: Near | None,
    i: int,
) -> None:
    """One member's top-k of ``row`` into ``dst`` (``top_k_mask``; ``near`` at index i)."""
    n = row.numel()
    if k >= n or k <= 0:
        dst.fill_(k > 0)
        return
    kth = None
    if near is not None and near.moved[i] == near.moved[i]:  # not NaN: known
        width = max(4 * near.moved[i], abs(near.at[i]) * 1e-6, 1e-30)
        lo, hi = near.at[i] - width, near.at[i] + width
        above_hi = row > hi
        n_above = int(torch.count_nonzero(above_hi))
        band = row[(row >= lo).logical_and_(above_hi.logical_not_())]
        if n_above < k <= n_above + len(band):
            kth = torch.kthvalue(band, len(band) - (k - n_above) + 1).values
    if kth is None:
        kth = torch.kthvalue(row, n - k + 1).values
    if near is not None:
        value = float(kth)
        if near.at[i] == near.at[i]:
            near.moved[i] = abs(value - near.at[i])
        near.at[i] = value
    torch.ge(row, kth, out=dst)
    if count(dst) != k:  # ties at the k-th value: lower indices first
        above, tied = row > kth, row == kth
        room = k - int(torch.count_nonzero(above))
        dst.copy_(above | (tied & (tied.cumsum(0) <= room)))


def _counter(dtype: torch.dtype, n: int) -> Callable[[torch.Tensor], int]:
    """How to count a mask's kept entries: a float32 sum is exact below 2^24 entries."""
    if dtype == torch.bool:
        return lambda m: int(torch.count_nonzero(m))
    if dtype == torch.float64 or n < 2**24:
        return lambda m: int(m.sum())
    return lambda m: int(m.sum(dtype=torch.float64))


class _Straight(torch.autograd.Function):
    """``base x hard`` forward (``hard`` a 0/1 mask of ``base``'s dtype); backward, the
    gradient to the scores passes straight through the hard mask: ``grad x base x
    d(soft)/d(score)`` (``through``, precomputed). One product each way, where the same
    through autograd's elementwise operators took five."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        scores: torch.Tensor,
        base: torch.Tensor,
        hard: torch.Tensor,
        through: torch.Tensor,
    ) -> torch.Tensor:
        ctx.save_for_backward(through)
        return base * hard

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor, None, None, None]:
        (through,) = ctx.saved_tensors
        return grad * through, None, None, None


@dataclass
class Scratch:
    """What a step of edge-popup or biprop writes for one masked tensor, kept from step to
    step (fresh memory of a cohort's first layer costs more to fault in than to fill): the
    mask, the slope (which becomes the straight-through factor), and for biprop the
    effective magnitudes times signs (``base``) and the frozen weights' magnitudes and
    signs, computed once."""

    mask: torch.Tensor
    slope: torch.Tensor
    base: torch.Tensor | None = None
    magnitude: torch.Tensor | None = None
    sign: torch.Tensor | None = None

    @classmethod
    def of(cls, frozen: torch.Tensor, method: str) -> Scratch:
        mask, slope = torch.empty_like(frozen), torch.empty_like(frozen)
        if method == "biprop":
            return cls(mask, slope, torch.empty_like(frozen), frozen.abs(), frozen.sign())
        return cls(mask, slope)


def effective(
    method: str,
    frozen: torch.Tensor,
    scores: torch.Tensor,
    keep: torch.Tensor,
    gens: list[torch.Generator] | None = None,
    near: Near | None = None,
    scratch: Scratch | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights the network uses, ``[M, ...]``, with the gradient to ``scores`` of each
    method (module docstring), and the hard mask (0/1 in ``frozen``'s dtype). ``bernoulli``
    samples member i's mask with ``gens[i]``; ``near`` speeds up the top-k
    (``top_k_mask``); ``scratch`` (``Scratch.of(frozen, method)``) is reused."""
    if method == "bernoulli":
        assert gens is not None
        with torch.no_grad():
            p = torch.sigmoid(scores)
            hard = torch.stack(
                [torch.bernoulli(pi, generator=g) for pi, g in zip(p, gens, strict=True)]
            )
            through = frozen * (p * (1 - p))  # d sigmoid / d logit
        return _Straight.apply(scores, frozen, hard, through), hard
    with torch.no_grad():
        # Member by member, so that its scores, mask and slope stay in cache between the
        # selection and the products (a cohort's first layer does not fit).
        sc = scratch or Scratch.of(frozen, method)
        s = scores.detach()
        count = _counter(frozen.dtype, frozen[0].numel())
        for i, k in enumerate(keep.tolist()):
            mask, slope = sc.mask[i], sc.slope[i]
            _select(s[i].abs().view(-1), k, mask.view(-1), count, near, i)
            torch.sign(s[i], out=slope)  # d |s| / d s
            if sc.base is None:  # edge-popup: through = W x sign(s)
                slope.mul_(frozen[i])
                continue
            # biprop: base = g x sign(W), g the mean |W| of the kept weights; through =
            # base x sign(s).
            assert sc.magnitude is not None and sc.sign is not None
            kept = mask.sum().clamp(min=1)
            gain = torch.dot(sc.magnitude[i].view(-1), mask.view(-1)) / kept
            torch.mul(sc.sign[i], gain, out=sc.base[i])
            slope.mul_(sc.base[i])
    base = frozen if sc.base is None else sc.base
    return _Straight.apply(scores, base, sc.mask, sc.slope), sc.mask


def _mlp_forward(spec: MLPSpec) -> Callable[[Params, torch.Tensor], torch.Tensor]:
    """The cohort's logits ``[M, B, classes]`` as batched products (what ``vmap`` of the
    MLP's ``apply`` computes, without its copies). Activations are feature-major,
    ``[M, features, B]``, so that each weight's gradient comes out in the weight's own
    layout (batch-major products give it transposed, and the step then pays a copy)."""

    def forward(state: Params, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(2).transpose(1, 2)
        for i in range(1, spec.n_layers + 1):
            w, b = state[f"fc{i}.weight"], state[f"fc{i}.bias"]
            h = torch.baddbmm(b.unsqueeze(2), w, h)
            if i < spec.n_layers:
                h = h.relu()
        return h.transpose(1, 2)

    return forward


def _batched(spec: Architecture) -> Callable[[Params, torch.Tensor], torch.Tensor]:
    """The cohort's logits from stacked states: the MLP's batched products, or the module
    under ``vmap`` (its network built first, outside it)."""
    if isinstance(spec, MLPSpec):
        return _mlp_forward(spec)
    spec.eval_net()
    return vmap(spec.apply)


@torch.no_grad()
def _fit_error(
    spec: Architecture,
    state: Params,
    teachers: tuple[Architecture, list[Params]],
    members: list[ScoreMember],
    dtype: torch.dtype,
) -> list[float | None]:
    """Each member's mean squared error to its teacher's logits on the test split."""
    t_spec, nets = teachers
    out: list[float | None] = []
    for i, m in enumerate(members):
        one = {k: v[i] for k, v in state.items()}
        device = next(iter(one.values())).device
        teacher = {k: v.to(device, dtype) for k, v in nets[i].items()}
        total, n = 0.0, len(m.data.test)
        for s in range(0, n, EVAL_CHUNK):
            x = m.data.normalise(m.data.test.x[s : s + EVAL_CHUNK], dtype).view(-1, *m.data.shape)
            total += float((spec.apply(one, x) - t_spec.apply(teacher, x)).pow(2).mean(1).sum())
        out.append(total / n)
    return out


def score_setting(
    train: TrainConfig, lr: float, epochs: int, method: str = "edgepopup"
) -> TrainConfig:
    """The setting scores train with: SGD with momentum 0.9 at ``lr`` for ``epochs``
    (``train_scores`` adds the cosine schedule), at ``train``'s batch size and evaluation
    cadence; weight decay 5e-4 for edge-popup's and biprop's scores (hidden-networks'
    recipe: only their order matters), none for Bernoulli logits (Zhou et al.'s code: decay
    would pull every logit to 0, every mask probability to one half)."""
    return dataclasses.replace(
        train,
        optimizer="sgd",
        lr=lr,
        momentum=0.9,
        weight_decay=0.0 if method == "bernoulli" else 5e-4,
        epochs=epochs,
        steps=None,
        milestones=[],
        warmup_steps=0,
    )


def _cosine(total: int) -> Callable[[int], float]:
    return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


def train_scores(
    members: list[ScoreMember],
    spec: Architecture,
    cfg: TrainConfig,
    method: str,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    evaluate: bool = True,
    on_progress: Callable[[Progress], None] | None = None,
    teachers: tuple[Architecture, list[Params]] | None = None,
    checkpoint: Checkpoint | None = None,
    checkpoint_every_s: float = CHECKPOINT_EVERY_S,
) -> list[ScoreResult]:
    """Train every member's scores for ``cfg``'s steps, weights frozen; evaluate the
    frozen network under its current mask at step 0, every ``cfg.eval_every`` steps and
    at the end (for ``bernoulli``, under the thresholded mask; its samples are drawn from
    the member's data seed, so a member trains as it would alone).

    With ``teachers`` (an architecture and one network per member) the loss is instead the
    mean squared error between the member's logits and its teacher's on the same batch
    (fitting a given network, as the strong-ticket theorems state it); the result's
    ``fit_mse`` is that error on the test split at the end.

    With ``checkpoint``, the training state (scores, optimizer and schedule, the epoch's
    data order, every generator, the evaluations so far) is saved every
    ``checkpoint_every_s`` seconds, and a training that finds a saved state continues from
    it, to the same result as one never interrupted."""
    if method not in METHODS:
        raise ConfigError(f"unknown score-training method {method!r}; choose one of {METHODS}")
    if any("running_mean" in k for k in members[0].weights):
        raise ConfigError(
            f"{method}: score training of networks with batch norm is not supported (their "
            "statistics would need training mode); choose a model without batch norm"
        )
    start = time.perf_counter()
    frozen = {k: v.to(device, dtype) for k, v in stack([m.weights for m in members]).items()}
    scores = {
        k: v.to(device, dtype).requires_grad_()
        for k, v in stack([m.scores for m in members]).items()
    }
    keep = {k: torch.tensor([m.keep.get(k, 0) for m in members], device=device) for k in scores}
    gens = [torch.Generator(device=device).manual_seed(m.data_seed ^ SAMPLE_SALT) for m in members]
    shape = members[0].data.shape
    as_members = [Member(m.weights, {}, m.data, m.data_seed) for m in members]  # data, order
    pool = Pool(as_members, device, None, dtype)
    total = cfg.total_steps(pool.n)
    per_epoch = -(-pool.n // cfg.batch_size)
    opt = optim.make_optimizer(list(scores.values()), cfg)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, _cosine(total))
    orders = order_generators(as_members)
    forward = _batched(spec)
    evals: list[list[EvalPoint]] = [[] for _ in members]

    near = {k: Near.unknown(len(members)) for k in scores}  # each k-th largest |score|
    scratch = {k: Scratch.of(frozen[k], method) for k in scores if method != "bernoulli"}
    teach, teacher_state = None, {}
    if teachers is not None:
        t_spec, nets = teachers
        teacher_state = {k: v.to(device, dtype) for k, v in stack(nets).items()}
        teach = _batched(t_spec)

    def network(sample: bool) -> tuple[Params, dict[str, torch.Tensor]]:
        state, masks = dict(frozen), {}
        for k, s in scores.items():
            if method == "bernoulli" and not sample:  # the mask it would keep: p > 0.5
                masks[k] = s.detach() > 0
                state[k] = frozen[k] * masks[k]
                continue
            state[k], masks[k] = effective(
                method, frozen[k], s, keep[k], gens, near[k], scratch.get(k)
            )
        return state, masks

    @torch.no_grad()
    def accuracy(state: Params, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        loss = torch.zeros(len(members), device=device, dtype=dtype)
        acc = torch.zeros(len(members), device=device, dtype=dtype)
        for i, m in enumerate(members):
            part = m.data.split(split)
            one = {k: v[i] for k, v in state.items()}
            for s in range(0, len(part), EVAL_CHUNK):
                x = m.data.normalise(part.x[s : s + EVAL_CHUNK], dtype).view(-1, *shape)
                ce, right = loss_and_correct(
                    spec.apply(one, x).unsqueeze(0), part.y[s : s + EVAL_CHUNK]
                )
                loss[i] += ce[0]
                acc[i] += right[0]
            loss[i] /= len(part)
            acc[i] /= len(part)
        return loss, acc

    def evaluate_at(step: int) -> None:
        if not evaluate:
            return
        state, _ = network(sample=False)
        vl, va = accuracy(state, "val")
        tl, ta = accuracy(state, "test")
        for i in range(len(members)):
            evals[i].append(EvalPoint(step, float(vl[i]), float(va[i]), float(tl[i]), float(ta[i])))

    saves = Saves(checkpoint, checkpoint_every_s, scores, opt, schedule, orders + gens)
    saved = saves.restore(device)
    first, order = 0, None
    if saved is not None:
        first, order, elapsed, extra = saved
        start -= elapsed
        evals[:] = [[EvalPoint(*e) for e in ev] for ev in extra["evals"]]
    else:
        evaluate_at(0)
    for step in range(first, total):
        pos = step % per_epoch
        if pos == 0:
            order = epoch_order(orders, pool.n, device)
        assert order is not None
        idx = order[:, pos * cfg.batch_size : (pos + 1) * cfg.batch_size]
        xb, yb = pool.batch(idx, feature_major=False)
        state, _ = network(sample=True)
        logits = forward(state, xb.view(*idx.shape, *shape))
        if teach is None:
            loss = cohort_loss(logits, yb)
        else:
            with torch.no_grad():
                target = teach(teacher_state, xb.view(*idx.shape, *shape))
            loss = (logits - target).pow(2).mean((1, 2)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        done = step + 1
        if done % cfg.eval_every == 0 or done == total:
            evaluate_at(done)
        if on_progress is not None and done % PROGRESS_EVERY == 0:
            on_progress(Progress(done, total, len(members)))
        if saves.due():
            extra = {"evals": [[dataclasses.astuple(e) for e in ev] for ev in evals]}
            saves.save(done, order, time.perf_counter() - start, extra)

    sampled: list[float | None] = [None] * len(members)
    if method == "bernoulli" and evaluate:
        accs = torch.stack([accuracy(network(sample=True)[0], "test")[1] for _ in range(SAMPLES)])
        sampled = accs.mean(0).tolist()
    state, final = network(sample=False)  # the masks it ends with (buffers: read once)
    fit: list[float | None] = [None] * len(members)
    if teachers is not None:
        fit = _fit_error(spec, state, teachers, members, dtype)
    wall = time.perf_counter() - start
    return [
        ScoreResult(
            {k: v[i].bool().cpu() for k, v in final.items()},
            {k: v[i].detach().cpu() for k, v in scores.items()},
            evals[i],
            wall,
            sampled[i],
            fit[i],
        )
        for i in range(len(members))
    ]
