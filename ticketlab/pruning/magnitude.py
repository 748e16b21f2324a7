"""Masks and pruning: which weights survive, and how the next round's mask is chosen.

A mask is ``{weight_name: bool tensor}`` over the prunable weight tensors of one network
(every Conv and Linear weight the architecture lists, less the ones ``prune.ignore`` and
``prune.output: ignore`` leave dense); biases and norm parameters are never pruned. Every
pruning function only ever removes surviving weights, so a weight once pruned never comes
back. Ties in magnitude are broken by flat index (the lower index is pruned first), so the
same weights always give the same mask.
"""

from __future__ import annotations

import math

import torch

from ticketlab.config import PruneConfig
from ticketlab.errors import ConfigError
from ticketlab.models.params import Params
from ticketlab.models.registry import Architecture
from ticketlab.pruning.scores import criterion, select_global, select_layerwise

Mask = dict[str, torch.Tensor]


def prunable(spec: Architecture, cfg: PruneConfig | None = None) -> list[str]:
    """The weight tensors ``cfg`` prunes, input to output."""
    names = spec.weight_names()
    if cfg is None:
        return names
    unknown = [n for n in cfg.ignore if n not in names]
    if unknown:
        raise ConfigError(
            f"prune.ignore names {', '.join(unknown)}, which the model does not have as a "
            f"prunable weight; it has: {', '.join(names)}"
        )
    leave = set(cfg.ignore) | ({spec.output_name()} if cfg.output == "ignore" else set())
    return [n for n in names if n not in leave]


def full_mask(spec: Architecture, cfg: PruneConfig | None = None) -> Mask:
    shapes = spec.shapes()
    return {name: torch.ones(shapes[name], dtype=torch.bool) for name in prunable(spec, cfg)}


def density(mask: Mask) -> float:
    """Fraction of weights remaining over all masked layers."""
    kept = sum(int(m.sum()) for m in mask.values())
    return kept / sum(m.numel() for m in mask.values())


def layer_density(mask: Mask) -> dict[str, float]:
    return {k: int(m.sum()) / m.numel() for k, m in mask.items()}


def units_without_inputs(mask: Mask) -> dict[str, int]:
    """Per weight tensor, the output units (rows) whose every weight is pruned: units cut
    off from their inputs; in the output layer, classes the network can no longer tell."""
    return {k: int((~m.flatten(1).any(1)).sum()) for k, m in mask.items()}


THIN = 2  # kept weights per unit at or below which units are likely to lose every input


def schedule_collapse(spec: Architecture, cfg: PruneConfig) -> dict[str, tuple[int, int]]:
    """For schedules that prune every layer by a fixed rate (layer-wise, random), the first
    round at which each layer keeps at most ``THIN`` weights per unit, and the count kept:
    from then on units are likely to lose every input (certain below one per unit).
    Global pruning is decided by the weights, so nothing is known in advance (empty)."""
    if cfg.method == "global":
        return {}
    rates = layer_rates(spec, cfg)
    out = {}
    for name, shape in spec.shapes().items():
        if name not in rates:
            continue
        kept = math.prod(shape)
        for r in range(1, cfg.rounds + 1):
            kept -= _n_remove(rates[name], kept)
            if kept <= THIN * shape[0]:
                out[name] = (r, kept)
                break
    return out


def layer_rates(spec: Architecture, cfg: PruneConfig) -> dict[str, float]:
    """Per-round fraction of surviving weights each pruned layer loses, by the layer's kind:
    ``conv_rate`` for convolutions and ``output_rate`` for the output layer where set (and
    the output layer separate), else the common rate."""
    rate = cfg.round_rate()
    rates = {}
    for name in prunable(spec, cfg):
        kind = spec.kind(name)
        if kind == "conv" and cfg.conv_rate is not None and cfg.method != "global":
            rates[name] = cfg.conv_rate
        elif kind == "output" and cfg.output == "separate" and cfg.output_rate is not None:
            rates[name] = cfg.output_rate
        else:
            rates[name] = rate
    return rates


def level_counts(spec: Architecture, cfg: PruneConfig, r: int) -> dict[str, int]:
    """Per pruned tensor, the weights layer-wise IMP keeps after ``r`` rounds of its
    schedule (each kind at its rate), continued past ``cfg.rounds`` as needed: the counts a
    mask source matches at level ``r``."""
    rates = layer_rates(spec, cfg)
    shapes = spec.shapes()
    out = {}
    for name in prunable(spec, cfg):
        kept = math.prod(shapes[name])
        for _ in range(r):
            kept -= _n_remove(rates[name], kept)
        out[name] = kept
    return out


def _n_remove(rate: float, alive: int) -> int:
    return min(alive, math.floor(rate * alive + 0.5))


def _remove_smallest(scores: torch.Tensor, alive: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (into the flat ``scores``) of the ``k`` smallest among ``alive`` positions,
    ties broken by lower index."""
    idx = alive.flatten().nonzero().squeeze(1)
    order = torch.sort(scores.flatten()[idx], stable=True).indices
    return idx[order[:k]]


def prune_layerwise(weights: Params, mask: Mask, rates: dict[str, float]) -> Mask:
    """Remove ``rates[layer]`` of each layer's surviving weights, smallest magnitude first."""
    new = {}
    for name, m in mask.items():
        k = _n_remove(rates[name], int(m.sum()))
        flat = m.flatten().clone()
        flat[_remove_smallest(weights[name].abs(), m, k)] = False
        new[name] = flat.view_as(m)
    return new


def prune_global(weights: Params, mask: Mask, rates: dict[str, float], output: str | None) -> Mask:
    """Remove the globally smallest surviving weights of all layers but ``output`` at the
    common rate; the output layer is pruned on its own at its rate (it is tiny and would
    otherwise be starved or spared arbitrarily). ``output`` None pools every layer."""
    pooled = [n for n in mask if n != output]
    scores = torch.cat([weights[n].abs().flatten() for n in pooled])
    alive = torch.cat([mask[n].flatten() for n in pooled])
    k = _n_remove(rates[pooled[0]], int(alive.sum()))
    keep = alive.clone()
    keep[_remove_smallest(scores, alive, k)] = False
    new, offset = {}, 0
    for n in pooled:
        size = mask[n].numel()
        new[n] = keep[offset : offset + size].view_as(mask[n])
        offset += size
    if output is not None and output in mask:
        new.update(prune_layerwise(weights, {output: mask[output]}, rates))
    return {n: new[n] for n in mask}


def prune_random(mask: Mask, rates: dict[str, float], seed: int) -> Mask:
    """Remove a uniformly random ``rates[layer]`` of each layer's survivors."""
    g = torch.Generator().manual_seed(seed)
    new = {}
    for name, m in mask.items():
        k = _n_remove(rates[name], int(m.sum()))
        scores = torch.rand(m.shape, generator=g)
        flat = m.flatten().clone()
        flat[_remove_smallest(scores, m, k)] = False
        new[name] = flat.view_as(m)
    return new


def prune(
    weights: Params,
    mask: Mask,
    spec: Architecture,
    cfg: PruneConfig,
    seed: int,
    init: Params | None = None,
    invert: bool = False,
) -> Mask:
    """Next round's mask from this round's trained weights, by ``cfg.method``, scoring each
    weight by ``cfg.criterion`` (``init``: the weights the round started from, which every
    criterion but ``large_final`` reads). ``large_final`` breaks exact ties by flat index,
    as it always has (so runs resume to the same masks); the other criteria break them at
    random with the round's seed. ``invert`` keeps the lowest-scoring weights instead, at
    the same counts (the ``inverted`` sanity check; ties at random)."""
    rates = layer_rates(spec, cfg)
    cpu_w = {k: v.detach().cpu() for k, v in weights.items()}
    if cfg.method == "random":
        return prune_random(mask, rates, seed)
    separate = cfg.output == "separate"
    output = spec.output_name() if separate else None
    if cfg.criterion == "large_final" and not invert:
        if cfg.method == "layerwise":
            return prune_layerwise(cpu_w, mask, rates)
        return prune_global(cpu_w, mask, rates, output)
    if init is None and cfg.criterion != "large_final":
        raise ValueError(f"prune.criterion {cfg.criterion} needs the round's initial weights")
    start = cpu_w if init is None else {k: v.detach().cpu() for k, v in init.items()}
    scores = criterion(cfg.criterion, {k: cpu_w[k] for k in mask}, start)
    if invert:
        scores = {k: -v for k, v in scores.items()}
    counts = {n: int(m.sum()) - _n_remove(rates[n], int(m.sum())) for n, m in mask.items()}
    if cfg.method == "layerwise":
        return select_layerwise(scores, mask, counts, seed)
    pooled = [n for n in mask if n != output]
    alive = sum(int(mask[n].sum()) for n in pooled)
    new = select_global(
        {n: scores[n] for n in pooled},
        {n: mask[n] for n in pooled},
        alive - _n_remove(rates[pooled[0]], alive),
        seed,
    )
    if output is not None and output in mask:
        new |= select_layerwise(scores, {output: mask[output]}, counts, seed)
    return {n: new[n] for n in mask}


def random_mask_like(mask: Mask, seed: int) -> Mask:
    """A uniformly random mask with exactly the same number of survivors per layer."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, m in mask.items():
        keep = int(m.sum())
        flat = torch.zeros(m.numel(), dtype=torch.bool)
        flat[torch.randperm(m.numel(), generator=g)[:keep]] = True
        out[name] = flat.view_as(m)
    return out
