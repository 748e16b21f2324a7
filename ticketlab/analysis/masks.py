"""What a run's tickets keep, read from its saved masks: how alike two sets of masks are
(between two runs, between the seeds of one run, against a mask chosen by initial
magnitude alone), and which input pixels the first layer keeps."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from ticketlab.analysis.overlap import keep_map, largest_like, overlap
from ticketlab.errors import DamagedFile, warn
from ticketlab.store.rundir import RunDir

# Flattened images a first layer may read: inputs -> (channels, height, width).
IMAGES = {784: (1, 28, 28), 3072: (3, 32, 32)}


@dataclass
class OverlapRow:
    """One pair of masks at one round: per tensor and overall (``tensor == "all"``)."""

    what: str  # which comparison, e.g. "runA vs runB", "between seeds", "large_init"
    round: int
    seeds: tuple[int, int]
    tensor: str
    jaccard: float
    chance: float
    weights_remaining: float


def _tensors(run: RunDir, name: str) -> dict[str, torch.Tensor] | None:
    """The saved tensors, or None where missing or damaged (with a warning; ``verify``
    names the file): the mask figures leave them out rather than fail."""
    try:
        return run.load_tensors(name)
    except DamagedFile as e:
        warn(f"left out of the mask figures: {e}")
        return None


def _mask(run: RunDir, seed: int, rnd: int) -> dict[str, torch.Tensor] | None:
    return _tensors(run, f"masks/seed{seed}/round{rnd:02d}")


def _rows(
    what: str,
    rnd: int,
    seeds: tuple[int, int],
    a: dict[str, torch.Tensor],
    b: dict[str, torch.Tensor],
) -> list[OverlapRow]:
    per, total = overlap(a, b)
    kept = sum(int(m.bool().sum()) for m in a.values()) / sum(m.numel() for m in a.values())
    rows = [OverlapRow(what, rnd, seeds, n, o.jaccard, o.chance, kept) for n, o in per.items()]
    return [*rows, OverlapRow(what, rnd, seeds, "all", total.jaccard, total.chance, kept)]


def mask_rounds(run: RunDir) -> list[int]:
    """The pruned rounds (1 and up) whose masks every seed of the run has."""
    cfg = run.config
    return [
        r
        for r in range(1, cfg.prune.rounds + 1)
        if all(run.has_tensors(f"masks/seed{s}/round{r:02d}") for s in cfg.seeds)
    ]


def overlaps(
    run: RunDir, other: RunDir | None = None, rounds: list[int] | None = None
) -> list[OverlapRow]:
    """Jaccard similarity of ticket masks with its chance level, per round: against
    ``other``'s masks of the same seed and round (two runs from the same initial weights,
    e.g. two datasets or two data orders), or, without ``other``, between every pair of the
    run's seeds and against the ``large_init`` mask (each seed's initial weights of largest
    magnitude, as many per tensor as the ticket keeps: no data at all)."""
    todo = rounds if rounds is not None else mask_rounds(run)
    out: list[OverlapRow] = []
    seeds = run.config.seeds
    if other is not None:
        label = f"{run.path.name} vs {other.path.name}"
        common = [s for s in seeds if s in other.config.seeds]
        for rnd in todo:
            for s in common:
                a, b = _mask(run, s, rnd), _mask(other, s, rnd)
                if a is not None and b is not None:
                    out += _rows(label, rnd, (s, s), a, b)
        return out
    inits = {s: _tensors(run, f"inits/seed{s}/ticket") for s in seeds}
    for rnd in todo:
        masks = {s: _mask(run, s, rnd) for s in seeds}
        for s, t in itertools.combinations(seeds, 2):
            a, b = masks[s], masks[t]
            if a is not None and b is not None:
                out += _rows("between seeds", rnd, (s, t), a, b)
        for s in seeds:
            m, w = masks[s], inits[s]
            if m is not None and w is not None:
                out += _rows("large_init", rnd, (s, s), m, largest_like(w, m))
    return out


def first_layer(mask: dict[str, torch.Tensor]) -> str | None:
    """The tensor of ``mask`` that reads flattened images (the first layer of an MLP over
    28x28 grayscale or 32x32 colour inputs), or None (e.g. a convolutional first layer)."""
    for name in sorted(mask):
        if mask[name].dim() == 2 and mask[name].shape[1] in IMAGES:
            return name
    return None


def keep_maps(run: RunDir) -> dict[int, tuple[float, torch.Tensor]]:
    """Per round with masks (round 0: everything kept, left out), the first layer's weights
    remaining and the share of each input pixel's outgoing weights kept, as an image, mean
    over seeds; empty where the first layer does not read flattened images."""
    out = {}
    for rnd in mask_rounds(run):
        maps, kept = [], []
        for s in run.config.seeds:
            mask = _mask(run, s, rnd)
            name = first_layer(mask) if mask is not None else None
            if mask is None or name is None:
                return {}
            m = mask[name]
            maps.append(keep_map(m, IMAGES[m.shape[1]]))
            kept.append(float(m.float().mean()))
        out[rnd] = (sum(kept) / len(kept), torch.stack(maps).mean(0))
    return out
