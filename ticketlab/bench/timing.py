"""Timing helpers of the bench: the matmul peak, the fastest chunk of steps, and the plain
masked step of the usual single-network loop that the baselines run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import nn

from ticketlab.device import synchronize
from ticketlab.train.members import PROGRESS_EVERY


def matmul_peak(
    device: torch.device, n: int = 2048, seconds: float = 1.0, dtype: torch.dtype = torch.float32
) -> float:
    """GFLOP/s of repeated ``n x n`` matmuls in ``dtype`` (the best of three timed bursts)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    best = 0.0
    for _ in range(3):
        synchronize(device)
        t, reps = time.perf_counter(), 0
        while time.perf_counter() - t < seconds / 3:
            a @ b
            reps += 1
        synchronize(device)
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t) / 1e9)
    return best


def plain_step(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    layers: Sequence[nn.Module],
    masks: list[torch.Tensor],
    xb: torch.Tensor,
    yb: torch.Tensor,
) -> None:
    """The usual lottery-ticket step: a step of the whole network, then the mask
    re-applied to the pruned layers' weights."""
    loss = nn.functional.cross_entropy(net(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        for layer, m in zip(layers, masks, strict=True):
            weight = layer.weight
            assert isinstance(weight, torch.Tensor)
            weight.mul_(m)


def timed_total(steps: int) -> int:
    """Steps to train for ``steps`` timed ones: whole chunks, plus one untimed chunk."""
    return (max(1, -(-steps // PROGRESS_EVERY)) + 1) * PROGRESS_EVERY


def best_chunk(marks: list[float]) -> float:
    """Seconds per step of the fastest chunk between consecutive marks. The first chunk,
    which holds set-up and warm-up, has no mark before it and so is never counted; the
    fastest is the one least disturbed by other work on a shared machine."""
    return min(b - a for a, b in pairwise(marks)) / PROGRESS_EVERY


def time_call(step: Callable[[], None], device: torch.device, reps: int = 10) -> float:
    """Seconds per call: the fastest of five bursts of ``reps`` calls, after a warm-up."""
    step()
    best = float("inf")
    for _ in range(5):
        synchronize(device)
        t = time.perf_counter()
        for _ in range(reps):
            step()
        synchronize(device)
        best = min(best, (time.perf_counter() - t) / reps)
    return best
