"""Mask sources: ways of finding a ticket's mask other than IMP, as registered plug-ins.

A source scores the weights of an untrained network (``scores``: higher is kept first) from
what it declares it needs: the architecture's ``apply`` (every source gets it), the initial
weights, the current mask, and, for sources that use data (``uses_data``), a scoring batch
of the main dataset's training split. ``iterations`` > 1 makes it iterative: the mask is
pruned towards the target in that many steps on an exponential schedule, rescored each time
(SynFlow). ``find_mask`` drives either and returns the mask with its cost (scoring passes
and wall time).

Built in: ``magnitude`` (|w| at init), ``snip``, ``grasp``, ``synflow`` and ``random``. A
user's own source is named by import path, ``"package.module:Source"``: a class or object
with the attributes below (see ``docs/guide/mask-sources.md``).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from ticketlab.errors import ConfigError
from ticketlab.pruning.scores import (
    Apply,
    Tensors,
    grasp,
    inverted,
    select_global,
    select_layerwise,
    snip,
    synflow,
)


@dataclass(frozen=True)
class Context:
    """What a source may read: one network's ``apply``, its initial state ``params``, the
    input shape, and a class-balanced scoring batch (``x`` standardised, ``y``)."""

    apply: Apply
    params: Tensors
    input_shape: tuple[int, ...]
    x: torch.Tensor
    y: torch.Tensor
    seed: int


class MaskSource(Protocol):
    name: str
    uses_data: bool
    iterations: int

    def scores(self, ctx: Context, mask: Tensors) -> Tensors: ...


@dataclass
class Magnitude:
    name: str = "magnitude"
    uses_data: bool = False
    iterations: int = 1

    def scores(self, ctx: Context, mask: Tensors) -> Tensors:
        return {k: ctx.params[k].abs() for k in mask}


@dataclass
class Random:
    """Uniform scores from the seed: the random baseline at the same densities."""

    name: str = "random"
    uses_data: bool = False
    iterations: int = 1

    def scores(self, ctx: Context, mask: Tensors) -> Tensors:
        g = torch.Generator().manual_seed(ctx.seed)
        return {k: torch.rand(m.shape, generator=g) for k, m in mask.items()}


@dataclass
class Snip:
    name: str = "snip"
    uses_data: bool = True
    iterations: int = 1

    def scores(self, ctx: Context, mask: Tensors) -> Tensors:
        return snip(ctx.apply, ctx.params, mask, ctx.x, ctx.y)


@dataclass
class Grasp:
    name: str = "grasp"
    uses_data: bool = True
    iterations: int = 1

    def scores(self, ctx: Context, mask: Tensors) -> Tensors:
        return grasp(ctx.apply, ctx.params, mask, ctx.x, ctx.y)


@dataclass
class SynFlow:
    """Tanaka et al.'s defaults: 100 iterations, exponential schedule."""

    name: str = "synflow"
    uses_data: bool = False
    iterations: int = 100

    def scores(self, ctx: Context, mask: Tensors) -> Tensors:
        return synflow(ctx.apply, ctx.params, mask, ctx.input_shape)


SOURCES: dict[str, MaskSource] = {
    s.name: s for s in (Magnitude(), Snip(), Grasp(), SynFlow(), Random())
}


def mask_source(name: str) -> MaskSource:
    """A built-in source by name, or a user's by import path ``package.module:attr`` (a
    class is instantiated without arguments)."""
    if name in SOURCES:
        return SOURCES[name]
    if ":" not in name:
        raise ConfigError(
            f"unknown mask source {name!r}; choose one of {', '.join(SOURCES)}, or give an "
            "import path 'package.module:Source'"
        )
    module, attr = name.split(":", 1)
    try:
        obj: Any = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"mask source {name!r} cannot be imported: {e}") from e
    source = obj() if isinstance(obj, type) else obj
    missing = [a for a in ("uses_data", "iterations", "scores") if not hasattr(source, a)]
    if missing:
        raise ConfigError(
            f"mask source {name!r} lacks {', '.join(missing)}: a source has uses_data, "
            "iterations and scores(ctx, mask) (see the mask-sources guide)"
        )
    return source


@dataclass(frozen=True)
class Found:
    mask: Tensors
    scores: Tensors  # the first scoring's, on the full network (the inverted check's)
    passes: int  # scoring passes (forward and backward through the network)
    seconds: float


def _targets(full: Tensors, counts: dict[str, int], fraction: float) -> dict[str, int]:
    """Per tensor, the count at ``fraction`` of the way (in log density) from full to
    ``counts``: the exponential schedule of iterative pruning."""
    out = {}
    for k, m in full.items():
        n = m.numel()
        out[k] = max(counts[k], min(n, round(n * (counts[k] / n) ** fraction)))
    return out


def find_mask(
    source: MaskSource,
    ctx: Context,
    full: Tensors,
    counts: dict[str, int],
    scope: str,
    pooled: list[str],
) -> Found:
    """The mask ``source`` finds from ``full`` (every prunable weight, or those a previous
    mask keeps): ``layerwise``, ``counts[k]`` weights in each tensor; ``global``, the sum of
    ``counts`` over the ``pooled`` tensors in one pool, the others (e.g. a separate output
    layer) at their own counts. Iterative sources approach the target over
    ``source.iterations`` rescorings."""
    start = time.perf_counter()
    mask = {k: m.clone() for k, m in full.items()}
    scores: Tensors = {}
    steps = max(1, int(source.iterations))
    for i in range(1, steps + 1):
        target = counts if i == steps else _targets(full, counts, i / steps)
        now = source.scores(ctx, mask)
        scores = scores or now
        mask = select(now, mask, target, scope, pooled, ctx.seed + i)
    return Found(mask, scores, steps, time.perf_counter() - start)


def select(
    scores: Tensors,
    mask: Tensors,
    counts: dict[str, int],
    scope: str,
    pooled: list[str],
    seed: int,
) -> Tensors:
    """Keep ``counts`` of ``mask``'s weights by ``scores`` (see ``find_mask``)."""
    if scope == "layerwise":
        return select_layerwise(scores, mask, counts, seed)
    total = sum(counts[k] for k in pooled)
    out = select_global({k: scores[k] for k in pooled}, {k: mask[k] for k in pooled}, total, seed)
    rest = [k for k in mask if k not in pooled]
    if rest:
        out |= select_layerwise(scores, {k: mask[k] for k in rest}, counts, seed)
    return {k: out[k] for k in mask}


def inverted_mask(found: Found, full: Tensors, scope: str, pooled: list[str], seed: int) -> Tensors:
    """The sanity check of Frankle et al. 2021: the lowest-scoring weights at the found
    mask's per-tensor counts, by the scores of the full network (for an iterative source,
    its first scoring: later ones score pruned weights 0)."""
    counts = {k: int(m.sum()) for k, m in found.mask.items()}
    return select(inverted(found.scores), full, counts, "layerwise", pooled, seed)
