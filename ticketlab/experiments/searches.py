"""IMP with cheaper rounds, as mask sources: early-bird tickets (You et al. 2020) and PrAC
(Zhang et al. 2021, "Efficient Lottery Ticket Finding: Less Data is More").

Each such source runs IMP's schedule as its own chain of masks per seed. Round r's *search*
trains the seed's ticket (its initial weights, or the rewind point) under the chain's
level-r mask and prunes the weights it ends with exactly as IMP does (``prune``: its
criterion, rates and seed) to make level r+1. What makes a search cheaper:

- ``earlybird``: after every epoch the candidate mask (the weights of that epoch pruned at
  the round's rate) goes to the weight rule (``pruning.earlybird.WeightRule``); the search
  ends when it has settled, and the candidate of that epoch is the mask;
- ``prac``: every search records, after each epoch, which of its training examples the
  network classifies correctly (one forward pass over them, batch norm in eval mode; PrAC's
  code keeps the predictions of the training passes instead, made while the weights move);
  the next round trains only on the critical set (``pruning.prac``: forgotten or never
  learned, and after round 0 also the examples on which round 0's network and this
  round's disagree) for proportionally fewer epochs; an empty set keeps the round's own;
- ``prac_earlybird``: both, as PrAC's paper does.

A search is no training of the run (it has no record): what it cost is saved beside the
mask it made (``searches/seed{S}/{source}_round{RR}``) and carried by the records of the
level's tickets: ``mask_steps`` and ``mask_seconds`` sum every search of the chain up to
that level, ``search_epochs``, ``search_steps`` and ``search_examples`` describe the one
that made the mask (a full round is the record's own ``steps``), and ``search_distance``
the early-bird rule's state where it stopped: the largest mask distance of its last window
of epochs, which is below ``earlybird_eps`` when the rule drew the ticket. The masks are
evaluated as any ticket is: trained from the initial weights on the full data for the full
schedule, beside the sanity checks (``random_mask``, ``reinit``; ``inverted`` needs
scores, which these sources do not have). Searches run without checkpoints: an interrupted
one restarts.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import torch

from ticketlab.config import IMP_SOURCES, LEARNED_SOURCES, Config, TrainConfig
from ticketlab.data.datasets import Dataset, Split
from ticketlab.errors import TicketlabError
from ticketlab.experiments.seeds import derive_seed
from ticketlab.models.params import Params
from ticketlab.models.registry import Architecture
from ticketlab.pruning.earlybird import WeightRule
from ticketlab.pruning.magnitude import Mask, full_mask, level_counts, prune
from ticketlab.pruning.prac import critical_set, disagreement, scaled
from ticketlab.train.cohort import Member, train_cohort
from ticketlab.train.members import EVAL_CHUNK
from ticketlab.train.scores import (
    ScoreMember,
    kaiming_uniform_scores,
    score_setting,
    train_scores,
)

if TYPE_CHECKING:
    from ticketlab.experiments.lottery import RunState

EARLYBIRD = ("earlybird", "prac_earlybird")
PRAC = ("prac", "prac_earlybird")
SEARCHED = IMP_SOURCES + LEARNED_SOURCES  # sources whose masks searches make and save


def mask_file(seed: int, source: str, level: int) -> str:
    return f"masks/seed{seed}/{source}_round{level:02d}"


def search_file(seed: int, source: str, level: int) -> str:
    return f"searches/seed{seed}/{source}_round{level:02d}"


@dataclass
class SearchCost:
    """What the search that made a level's mask cost, and the total up to it (an IMP
    source's chain of searches; a learned mask's one)."""

    epochs: int
    steps: int
    examples: int
    seconds: float
    total_steps: int
    total_seconds: float
    frozen_acc: float | None = None  # a learned mask's test accuracy on its frozen weights
    distance: float | None = None  # early-bird: the largest d of the last window of epochs


def chain_mask(
    state: RunState, spec: Architecture, cfg: Config, seed: int, source: str, r: int
) -> Mask | None:
    """The chain's level-``r`` mask (every weight at level 0); None when not yet made."""
    if r == 0:
        return full_mask(spec, cfg.prune)
    mask = state.load_tensors(mask_file(seed, source, r))
    return None if mask is None else {k: v.bool() for k, v in mask.items()}


def chain_cost(state: RunState, seed: int, source: str, r: int) -> SearchCost | None:
    """The cost of the searches that made the level-``r`` mask (None if missing): an IMP
    source's every search up to the level, a learned mask's own."""
    total_steps, total_seconds, last = 0, 0.0, None
    for level in range(1, r + 1) if source in IMP_SOURCES else [r]:
        saved = state.load_tensors(search_file(seed, source, level))
        if saved is None:
            return None
        last = saved
        total_steps += int(saved["steps"])
        total_seconds += float(saved["seconds"])
    if last is None:
        return None
    return SearchCost(
        int(last["epochs"]),
        int(last["steps"]),
        int(last["examples"]),
        float(last["seconds"]),
        total_steps,
        total_seconds,
        float(last["frozen_acc"]) if "frozen_acc" in last else None,
        float(last["distance"]) if "distance" in last else None,
    )


def on_examples(ds: Dataset, positions: torch.Tensor) -> Dataset:
    """``ds`` training on the examples at ``positions`` of its training split only (its
    statistics, validation and test splits unchanged)."""
    return replace(ds, train=Split(ds.train.x[positions], ds.train.y[positions]))


def shortened(train: TrainConfig, kept: int, total: int) -> TrainConfig:
    """``train`` for a round on ``kept`` of ``total`` examples: fewer epochs (at least
    one) and milestones alike (``pruning.prac.scaled``); a length in steps is scaled the
    same way and its milestones, in epochs of the smaller set, are left as they are."""
    if train.steps is not None:
        return replace(train, steps=max(1, math.ceil(train.steps * kept / total)))
    epochs, milestones = scaled(train.epochs, train.milestones, kept, total)
    return replace(train, epochs=epochs, milestones=milestones)


@torch.no_grad()
def predictions(
    spec: Architecture, weights: Params, ds: Dataset, positions: torch.Tensor
) -> torch.Tensor:
    """A network's predicted classes for the training examples at ``positions``."""
    out = []
    for s in range(0, len(positions), EVAL_CHUNK):
        idx = positions[s : s + EVAL_CHUNK]
        x = ds.normalise(ds.train.x[idx]).view(len(idx), *ds.shape)
        out.append(spec.apply(weights, x).argmax(1))
    return torch.cat(out)


@dataclass
class Search:
    """One seed's search of one round: what it trains on and what it has seen so far."""

    seed: int
    source: str
    mask: Mask
    init: Params
    examples: torch.Tensor  # positions in the main training split it trains on
    rule: WeightRule | None
    prune_seed: int
    correct: list[torch.Tensor] = field(default_factory=list)
    drawn: int | None = None  # the epoch the early-bird ticket was drawn at
    weights: Params | None = None  # the weights at that epoch
    seconds: float = 0.0


class _Watch:
    """The epoch hook of one cohort of searches: PrAC's record of which examples each
    network gets right, and the early-bird rule, until every member has drawn its ticket."""

    def __init__(self, searcher: Searcher, group: list[Search], prac: bool) -> None:
        self.searcher, self.group, self.prac = searcher, group, prac
        self.started = time.perf_counter()

    def __call__(self, epoch: int, weights: Callable[[], list[Params]]) -> bool:
        s0 = self.searcher
        for s, w in zip(self.group, weights(), strict=True):
            if s.drawn is not None:
                continue
            if self.prac:
                pred = predictions(s0.spec, w, s0.main, s.examples)
                s.correct.append(pred == s0.main.train.y[s.examples])
            if s.rule is not None:
                candidate = prune(w, s.mask, s0.spec, s0.cfg.prune, s.prune_seed, s.init)
                if s.rule.update(candidate):
                    s.drawn, s.weights = epoch, w
                    # The cohort's time so far, shared equally by its members.
                    s.seconds = (time.perf_counter() - self.started) / len(self.group)
        return all(s.drawn is not None for s in self.group)


@dataclass
class Searcher:
    """Runs round ``r``'s searches of every seed and chain source that lacks its next mask,
    saving each next mask and its cost in ``state``."""

    cfg: Config
    spec: Architecture
    main: Dataset
    state: RunState
    device: torch.device

    def todo(self, r: int, sources: list[str]) -> list[tuple[int, str]]:
        if r >= self.cfg.prune.rounds:
            return []
        return [
            (seed, s)
            for seed in self.cfg.seeds
            for s in sources
            if self.state.load_tensors(mask_file(seed, s, r + 1)) is None
        ]

    def run(
        self,
        r: int,
        todo: list[tuple[int, str]],
        start: Callable[[int, int], Params],
        order: Callable[[int], int],
    ) -> None:
        """``start(seed, round)``: the seed's ticket start at a round; ``order``: each
        seed's data seed."""
        learned = [(seed, s) for seed, s in todo if s in LEARNED_SOURCES]
        for source in dict.fromkeys(s for _, s in learned):
            self._learn(r, source, [seed for seed, s in learned if s == source], start, order)
        todo = [(seed, s) for seed, s in todo if s not in LEARNED_SOURCES]
        searches = [self.plan(r, seed, source, start(seed, r)) for seed, source in todo]
        # One cohort per (source, training-set size): they share the step schedule.
        cohorts: dict[tuple[str, int], list[Search]] = {}
        for s in searches:
            cohorts.setdefault((s.source, len(s.examples)), []).append(s)
        n = len(self.main.train)
        for (source, size), group in cohorts.items():
            data = self.main if size == n else on_examples(self.main, group[0].examples)
            train = self.cfg.train if size == n else shortened(self.cfg.train, size, n)
            members = [Member(s.init, s.mask, data, order(s.seed)) for s in group]
            watch = _Watch(self, group, prac=source in PRAC)
            results = train_cohort(
                members, self.spec, train, self.device, evaluate=False, on_epoch=watch
            )
            per_epoch = -(-size // train.batch_size)
            full_epochs = -(-train.total_steps(size) // per_epoch)
            for s, res in zip(group, results, strict=True):
                if s.drawn is None:
                    s.drawn, s.weights = full_epochs, res.weights
                    s.seconds = res.wall_time_s / len(group)
                steps = min(s.drawn * per_epoch, train.total_steps(size))
                self._save(r, s, steps)

    def _learn(
        self,
        r: int,
        source: str,
        seeds: list[int],
        start: Callable[[int, int], Params],
        order: Callable[[int], int],
    ) -> None:
        """Level r+1's masks learned on each seed's ticket start of that level, frozen
        (``train.scores``), at IMP's per-tensor counts of the level, the seeds as one
        cohort."""
        starts = {seed: start(seed, r + 1) for seed in seeds}
        ex = self.cfg.experiment
        counts = level_counts(self.spec, self.cfg.prune, r + 1)
        train = score_setting(self.cfg.train, ex.score_lr, ex.score_epochs)
        members = [
            ScoreMember(
                starts[seed],
                {
                    k: kaiming_uniform_scores(
                        starts[seed][k].shape, derive_seed(seed, r + 1, source, "scores")
                    )
                    for k in counts
                },
                counts,
                self.main,
                order(seed),
            )
            for seed in seeds
        ]
        n = len(self.main.train)
        key = hashlib.sha256(f"learn/{source}/{r + 1}/{seeds}".encode()).hexdigest()[:16]
        checkpoint = self.state.checkpoint(key)
        results = train_scores(
            members, self.spec, train, source, self.device, checkpoint=checkpoint
        )
        for seed, res in zip(seeds, results, strict=True):
            saved = {
                "epochs": torch.tensor(train.epochs),
                "steps": torch.tensor(train.total_steps(n)),
                "examples": torch.tensor(n),
                "seconds": torch.tensor(res.wall_time_s / len(seeds), dtype=torch.float64),
                "frozen_acc": torch.tensor(res.evals[-1].test_acc, dtype=torch.float64),
            }
            self.state.save_tensors(search_file(seed, source, r + 1), saved)
            self.state.save_tensors(mask_file(seed, source, r + 1), res.mask)
        checkpoint.clear()

    def plan(self, r: int, seed: int, source: str, start: Params) -> Search:
        """Round ``r``'s search of one seed's chain: the chain's mask, the examples it trains
        on, its early-bird rule and prune seed (public for tools that replay a search)."""
        mask = chain_mask(self.state, self.spec, self.cfg, seed, source, r)
        assert mask is not None, "the searches of the rounds before run first"
        examples = torch.arange(len(self.main.train))
        if source in PRAC and r > 0:
            examples = self._saved(search_file(seed, source, r))["critical"]
        kept = sum(int(m.sum()) for m in mask.values())
        rule = (
            WeightRule(
                kept, self.cfg.experiment.earlybird_eps, self.cfg.experiment.earlybird_window
            )
            if source in EARLYBIRD
            else None
        )
        return Search(seed, source, mask, start, examples, rule, derive_seed(seed, r, "prune"))

    def _saved(self, name: str) -> dict[str, torch.Tensor]:
        saved = self.state.load_tensors(name)
        if saved is None:
            raise TicketlabError(
                f"{name}.safetensors, made by an earlier search, is missing from the run "
                "directory; the run is damaged (re-run into a new --out)"
            )
        return saved

    def _save(self, r: int, s: Search, steps: int) -> None:
        """The cost and (PrAC) the next round's critical set, then the next mask: a search
        whose mask exists is done."""
        assert s.weights is not None and s.drawn is not None
        saved = {
            "epochs": torch.tensor(s.drawn),
            "steps": torch.tensor(steps),
            "examples": torch.tensor(len(s.examples)),
            "seconds": torch.tensor(s.seconds, dtype=torch.float64),
        }
        if s.rule is not None and s.rule.distances:
            window = s.rule.distances[-s.rule.window :]
            saved["distance"] = torch.tensor(max(window), dtype=torch.float64)
        if s.source in PRAC:
            everyone = torch.arange(len(self.main.train))
            now = predictions(self.spec, s.weights, self.main, everyone)
            critical = s.examples[critical_set(torch.stack(s.correct))]
            if r == 0:
                saved["dense"] = now
            else:
                first = self._saved(search_file(s.seed, s.source, 1))
                critical = torch.unique(torch.cat([critical, disagreement(first["dense"], now)]))
            saved["critical"] = critical if len(critical) else s.examples
        self.state.save_tensors(search_file(s.seed, s.source, r + 1), saved)
        nxt = prune(s.weights, s.mask, self.spec, self.cfg.prune, s.prune_seed, s.init)
        self.state.save_tensors(mask_file(s.seed, s.source, r + 1), nxt)
