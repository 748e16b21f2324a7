"""Supermasks: masks on untrained weights, evaluated without any weight training.

One-shot (Zhou et al. 2019, "Deconstructing Lottery Tickets"): masks built by each IMP
criterion from one dense training's initial and final weights, applied to the initial
weights (their original values, and ``signed_constant``: the initial signs times the
tensor's standard deviation).

Learned (``train.scores``): masks trained on the same frozen starts, weights never trained:
edge-popup and biprop at each keep fraction (every tensor keeps that share), and Zhou et
al.'s Bernoulli supermask, which has no keep fraction (its thresholded mask keeps what it
learned to keep; ``weights_remaining`` says how much)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ticketlab.config import PRUNE_CRITERIA, Config
from ticketlab.data.datasets import Dataset
from ticketlab.experiments.lottery import data_seed, ticket_start
from ticketlab.experiments.seeds import derive_seed
from ticketlab.models.params import Params
from ticketlab.models.registry import Architecture
from ticketlab.pruning.magnitude import density, full_mask
from ticketlab.pruning.scores import criterion, keep_counts, select_layerwise
from ticketlab.train.cohort import Member, train_cohort
from ticketlab.train.evaluate import evaluate
from ticketlab.train.members import Checkpoint
from ticketlab.train.scores import (
    ScoreMember,
    kaiming_uniform_scores,
    score_setting,
    train_scores,
)

DENSITIES = (0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01)
STARTS = ("init", "signed_constant")
LEARNED = ("edgepopup", "biprop", "bernoulli")
KEEP_FRACTIONS = (0.5, 0.3, 0.1)


@dataclass(frozen=True)
class Supermask:
    seed: int
    criterion: str
    density: float  # asked; each tensor keeps round(density x its size)
    start: str  # "init" or "signed_constant"
    test_acc: float
    weights_remaining: float
    learned: bool = False  # a mask trained on the frozen start (``criterion``: the method)
    sampled_test_acc: float | None = None  # Bernoulli: mean over sampled masks
    score_lr: float | None = None  # a learned mask's score setting
    score_epochs: int | None = None

    @property
    def label(self) -> str:
        """The mask's name in tables: a learned method with its score learning rate
        (``edgepopup lr=1``), so masks learned at two settings are two methods."""
        return self.criterion if self.score_lr is None else f"{self.criterion} lr={self.score_lr:g}"


def start_weights(init: Params, mask: Params, start: str) -> Params:
    """The untrained weights a supermask is applied to: the initial values, or for
    ``signed_constant`` each masked tensor's signs times its standard deviation."""
    weights = dict(init)
    if start == "signed_constant":
        for k in mask:
            weights[k] = init[k].sign() * init[k].std(correction=0)
    return weights


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
                kept = density(mask)
                for start in STARTS:
                    weights = start_weights(init, mask, start)
                    for k, m in mask.items():
                        weights[k] = weights[k] * m.to(weights[k].dtype)
                    _, acc = evaluate(spec, weights, data)
                    out.append(Supermask(seed, name, d, start, acc, kept))
    return out


def learned_groups(
    methods: tuple[str, ...], keep: tuple[float, ...]
) -> list[tuple[str, float | None]]:
    """The cohorts ``learned_supermasks`` trains: each method at each keep fraction, the
    Bernoulli supermask once (it has none)."""
    return [
        g for m in methods for g in ([(m, None)] if m == "bernoulli" else [(m, k) for k in keep])
    ]


def learned_supermasks(
    spec: Architecture,
    cfg: Config,
    data: Dataset,
    seeds: list[int],
    device: torch.device,
    group: tuple[str, float | None],
    setting: tuple[float, int],
    checkpoint: Checkpoint | None = None,
) -> list[Supermask]:
    """One cohort of learned supermasks: ``group``'s method (at its keep fraction, every
    tensor keeping that share) on each seed's initial weights from both starts, weights
    frozen, scores trained at ``setting``'s learning rate for its epochs (``score_setting``)
    in the data order of the run's round 0. ``test_acc`` is the frozen
    network under the final mask (Bernoulli: thresholded at 0.5, with the mean of sampled
    masks beside it)."""
    method, keep = group
    full = full_mask(spec, cfg.prune)
    counts = keep_counts(full, keep) if keep is not None else {k: 0 for k in full}
    members, ids = [], []
    for seed in seeds:
        init = ticket_start(spec, cfg, seed).weights
        for start in STARTS:
            scores = {
                k: kaiming_uniform_scores(init[k].shape, derive_seed(seed, method, "supermask", k))
                for k in full
            }
            weights = start_weights(init, full, start)
            members.append(ScoreMember(weights, scores, counts, data, data_seed(cfg, seed, 0)))
            ids.append((seed, start))
    lr, epochs = setting
    train = score_setting(cfg.train, lr, epochs, method)
    results = train_scores(members, spec, train, method, device, checkpoint=checkpoint)
    out = []
    for (seed, start), res in zip(ids, results, strict=True):
        kept = density(res.mask)
        asked = keep if keep is not None else kept
        acc = res.evals[-1].test_acc
        out.append(
            Supermask(seed, method, asked, start, acc, kept, True, res.sampled_test_acc, lr, epochs)
        )
    return out
