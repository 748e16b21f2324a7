"""What every cohort trainer takes and returns: the members, their results and the progress
reports, and how a member's data order is drawn."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import torch
import torch.nn.functional as F

from ticketlab.data.datasets import Dataset
from ticketlab.models.params import Params
from ticketlab.pruning.magnitude import Mask

EVAL_CHUNK = 4096
PROGRESS_EVERY = 50  # steps between progress reports (besides evaluations)
CHECKPOINT_EVERY_S = 300.0  # a training saves its state at most this often (wall seconds)


@dataclass
class Member:
    """One network to train. ``capture_step`` asks for a copy of the weights after that many
    steps (for late resetting)."""

    init: Params
    mask: Mask
    data: Dataset
    data_seed: int
    capture_step: int | None = None


@dataclass
class EvalPoint:
    step: int
    val_loss: float
    val_acc: float
    test_loss: float
    test_acc: float
    sign_flip: float = 0.0  # fraction of all kept weights whose sign differs from the start
    sign_flips: dict[str, float] = field(default_factory=dict)  # the same per weight tensor


@dataclass
class TrainResult:
    weights: Params
    evals: list[EvalPoint]
    wall_time_s: float
    captured: Params | None = None
    # What ran, by weight tensor: "dense fp32", "dense bf16" or "block-sparse fp32".
    kernels: dict[str, str] = field(default_factory=dict)

    @property
    def final(self) -> EvalPoint:
        return self.evals[-1]

    @property
    def early_stop(self) -> EvalPoint:
        """The evaluation with the lowest validation loss (first one on ties)."""
        return min(self.evals, key=lambda e: e.val_loss)


@dataclass
class Progress:
    """What the trainer reports while it runs (to a display callback)."""

    step: int
    total: int
    members: int
    val_acc: list[float] = field(default_factory=list)


def order_generators(members: list[Member]) -> list[torch.Generator]:
    """Each member's generator of data orders, seeded by its data seed (on the CPU, so a
    seed gives the same orders on every device; a checkpoint saves their states)."""
    return [torch.Generator().manual_seed(m.data_seed) for m in members]


def epoch_order(gens: list[torch.Generator], n: int, device: torch.device) -> torch.Tensor:
    """The next epoch's order of the ``n`` training examples of every member, ``[M, n]``."""
    return torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)


# Called after every whole epoch with its number (1, 2, ...) and a function giving every
# member's weights at that point (full tensors on the CPU, read only when called): True ends
# the cohort's training there, evaluated at that step (early-bird tickets, PrAC's record).
EpochHook = Callable[[int, Callable[[], list[Params]]], bool]


class Checkpoint(Protocol):
    """Where a long training saves its state mid-way (``save``), finds it again after an
    interruption (``load``: None if there is none) and drops it once recorded (``clear``)."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, state: dict[str, Any]) -> None: ...

    def clear(self) -> None: ...


class Saves:
    """A training's saves to ``checkpoint`` (none if it is None), at most every ``every_s``
    wall seconds: the tensors that change (weights, buffers or scores, in the trainer's own
    layout), the optimizer and its schedule, the epoch's data order, every generator's
    state, the wall time so far, and what the trainer adds (its evaluations so far, captured
    weights). A training restored from them ends as one never interrupted."""

    def __init__(
        self,
        checkpoint: Checkpoint | None,
        every_s: float,
        tensors: Params,
        opt: torch.optim.Optimizer,
        schedule: torch.optim.lr_scheduler.LRScheduler | None,
        gens: list[torch.Generator],
    ) -> None:
        self.checkpoint = checkpoint
        self.every_s = every_s
        self.tensors = tensors
        self.opt = opt
        self.schedule = schedule
        self.gens = gens
        self.last = time.perf_counter()

    def restore(
        self, device: torch.device
    ) -> tuple[int, torch.Tensor | None, float, dict[str, Any]] | None:
        """The saved step, epoch order, wall seconds and the trainer's additions, with the
        tensors, optimizer, schedule and generators set back; None if nothing is saved."""
        saved = self.checkpoint.load() if self.checkpoint is not None else None
        if saved is None:
            return None
        with torch.no_grad():
            for k, v in saved["tensors"].items():
                self.tensors[k].copy_(v)
        self.opt.load_state_dict(saved["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(saved["schedule"])
        for g, st in zip(self.gens, saved["generators"], strict=True):
            g.set_state(st)
        self.last = time.perf_counter()
        order = saved["order"]
        return (
            saved["step"],
            None if order is None else order.to(device),
            saved["elapsed"],
            saved["extra"],
        )

    def due(self) -> bool:
        return self.checkpoint is not None and time.perf_counter() - self.last >= self.every_s

    def save(
        self, step: int, order: torch.Tensor | None, elapsed: float, extra: dict[str, Any]
    ) -> None:
        assert self.checkpoint is not None
        self.checkpoint.save(
            {
                "step": step,
                "tensors": {k: v.detach().cpu() for k, v in self.tensors.items()},
                "optimizer": self.opt.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict(),
                "order": None if order is None else order.cpu(),
                "generators": [g.get_state() for g in self.gens],
                "elapsed": elapsed,
                "extra": extra,
            }
        )
        self.last = time.perf_counter()


def cohort_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The sum over members of each member's mean cross-entropy, for ``logits``
    ``[members, B, classes]`` and labels ``y`` ``[members, B]``: no member's gradient
    depends on another's."""
    return F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum") / y.shape[1]


def loss_and_correct(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy and count of correct predictions per member, for ``logits``
    ``[members, B, classes]`` of one shared batch with labels ``y`` ``[B]``."""
    members = logits.shape[0]
    ce = F.cross_entropy(logits.flatten(0, 1), y.repeat(members), reduction="none")
    return ce.view(members, -1).sum(1), (logits.argmax(-1) == y).sum(1)


class CohortEval(NamedTuple):
    """One evaluation point of a cohort, on the device: each ``[M]`` (``flips``: ``[M,
    layers]``, counts of kept weights whose sign differs from the start)."""

    step: int
    val_loss: torch.Tensor
    val_acc: torch.Tensor
    test_loss: torch.Tensor
    test_acc: torch.Tensor
    flips: torch.Tensor


History = list[CohortEval]


def save_cohort(
    saves: Saves,
    step: int,
    order: torch.Tensor | None,
    elapsed: float,
    history: History,
    captured: list[Params | None],
) -> None:
    """A weight-training cohort's save: ``Saves``' state plus its evaluations so far (steps
    and tensors on the CPU) and its late-resetting copies."""
    state = [[h.step, *(t.cpu() for t in h[1:])] for h in history]
    saves.save(step, order, elapsed, {"history": state, "captured": captured})


def resume_cohort(
    saves: Saves, device: torch.device, history: History, captured: list[Params | None]
) -> tuple[int, torch.Tensor | None, float] | None:
    """What ``save_cohort`` saved, restored (``history`` and ``captured`` filled in place):
    the step to continue from, the epoch's order and the wall seconds so far; None if
    nothing is saved."""
    saved = saves.restore(device)
    if saved is None:
        return None
    step, order, elapsed, extra = saved
    history[:] = [CohortEval(h[0], *(t.to(device) for t in h[1:])) for h in extra["history"]]
    captured[:] = extra["captured"]
    return step, order, elapsed


def sign_flip_counts(
    params: Params,
    start_sign: Params,
    dtype: torch.dtype,
    per_member: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
) -> torch.Tensor:
    """``[M, layers]`` counts of kept weights whose sign differs from the start, one column
    per tensor of ``start_sign``: the one sign-flip measurement of every trainer. A pruned
    weight is zero from the start and never flips, so counting every entry counts the kept
    ones. ``per_member`` sums a tensor stored in another layout (block-sparse) per member."""
    counts = []
    for k, start in start_sign.items():
        flipped = (params[k].detach().sign() != start).to(dtype)
        sum_members = (per_member or {}).get(k)
        counts.append(sum_members(flipped) if sum_members else flipped.flatten(1).sum(1))
    return torch.stack(counts, 1)


def with_history(
    results: list[TrainResult], history: History, kept: torch.Tensor, weight_keys: list[str]
) -> list[TrainResult]:
    """Fill ``results``' evaluation points from ``history`` (``kept``: the ``[M, layers]``
    kept counts), read from the device once, at the end."""
    if not history:
        return results
    vl, va, tl, ta = (
        torch.stack([getattr(h, name) for h in history]).tolist()
        for name in ("val_loss", "val_acc", "test_loss", "test_acc")
    )
    flips = torch.stack([h.flips for h in history]).cpu()  # [evals, M, layers]
    kept_cpu = kept.cpu()
    share = (flips / kept_cpu.clamp(min=1)).tolist()
    overall = (flips.sum(2) / kept_cpu.sum(1).clamp(min=1)).tolist()
    for i, res in enumerate(results):
        res.evals = [
            EvalPoint(
                h.step,
                vl[j][i],
                va[j][i],
                tl[j][i],
                ta[j][i],
                overall[j][i],
                dict(zip(weight_keys, share[j][i], strict=True)),
            )
            for j, h in enumerate(history)
        ]
    return results
