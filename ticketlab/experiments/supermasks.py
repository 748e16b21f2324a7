"""One-shot supermasks (Zhou et al. 2019, "Deconstructing Lottery Tickets"): masks built by
each IMP criterion from one dense training's initial and final weights, applied to the
initial weights (their original values, and ``signed_constant``: the initial signs times
the tensor's standard deviation), and evaluated without any training."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ticketlab.config import PRUNE_CRITERIA, Config
from ticketlab.data.datasets import Dataset
from ticketlab.experiments.lottery import data_seed, ticket_start
from ticketlab.models.params import Params
from ticketlab.models.registry import Architecture
from ticketlab.pruning.magnitude import full_mask
from ticketlab.pruning.scores import criterion, keep_counts, select_layerwise
from ticketlab.train.cohort import Member, train_cohort
from ticketlab.train.evaluate import evaluate

DENSITIES = (0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01)
STARTS = ("init", "signed_constant")


@dataclass(frozen=True)
class Supermask:
    seed: int
    criterion: str
    density: float  # asked; each tensor keeps round(density x its size)
    start: str  # "init" or "signed_constant"
    test_acc: float
    weights_remaining: float


def dense_training(
    spec: Architecture, cfg: Config, data: Dataset, seeds: list[int], device: torch.device
) -> dict[int, tuple[Params, Params]]:
    """Each seed's dense network (the run's round 0: same initial weights and data order)
    trained once, as one cohort: its initial and final weights."""
    starts = {s: ticket_start(spec, cfg, s).weights for s in seeds}
    members = [
        Member(starts[s], full_mask(spec, cfg.prune), data, data_seed(cfg, s, 0)) for s in seeds
    ]
    results = train_cohort(members, spec, cfg.train, device)
    return {s: (starts[s], r.weights) for s, r in zip(seeds, results, strict=True)}


def supermasks(
    spec: Architecture,
    cfg: Config,
    data: Dataset,
    trained: dict[int, tuple[Params, Params]],
    criteria: tuple[str, ...] = PRUNE_CRITERIA,
    densities: tuple[float, ...] = DENSITIES,
) -> list[Supermask]:
    """Every criterion's mask at every density, layer-wise, on each seed's initial weights
    (original and signed constant), evaluated on the test split untrained."""
    out = []
    for seed, (init, final) in trained.items():
        full = full_mask(spec, cfg.prune)
        for name in criteria:
            scores = criterion(name, {k: final[k].cpu() for k in full}, init)
            for d in densities:
                mask = select_layerwise(scores, full, keep_counts(full, d), seed)
                kept = sum(int(m.sum()) for m in mask.values()) / sum(
                    m.numel() for m in mask.values()
                )
                for start in STARTS:
                    weights = dict(init)
                    for k, m in mask.items():
                        w = init[k]
                        if start == "signed_constant":
                            w = w.sign() * w.std(correction=0)
                        weights[k] = w * m.to(w.dtype)
                    _, acc = evaluate(spec, weights, data)
                    out.append(Supermask(seed, name, d, start, acc, kept))
    return out
