"""The early-bird weight rule's mask distance after every epoch of a run's `earlybird`
searches, trained again: why the rule fired when it did, or never.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/earlybird_distances.py RUN [--rounds 0 1]

For each round asked (default 0), the seeds' searches train as the run trains them (the
chain's mask of that round, each seed's ticket start and data order, the seeds as one
cohort) and d is printed after every epoch from the second: the entries in which the
candidate mask (the weights pruned at the round's rate) differs from the epoch before's,
over the weights the round starts with. The rule draws the ticket once the last
`earlybird_window` values of d are all below `earlybird_eps`. The cohort is the one the
run's searches form (the seeds in order), so up to where each search stopped the numbers
are the run's own, bit for bit (a test checks it against the records' `search_distance`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ticketlab.api import load_datasets
from ticketlab.data.datasets import Dataset
from ticketlab.device import resolve
from ticketlab.experiments.lottery import data_seed, round_ticket
from ticketlab.experiments.searches import chain_mask
from ticketlab.experiments.seeds import derive_seed
from ticketlab.models.params import Params
from ticketlab.models.registry import Architecture, architecture
from ticketlab.pruning.earlybird import WeightRule
from ticketlab.pruning.magnitude import prune
from ticketlab.store.rundir import RunDir
from ticketlab.train.cohort import Member, train_cohort


def distances(rd: RunDir, spec: Architecture, data: Dataset, r: int) -> dict[int, list[float]]:
    """Each seed's d after every epoch from the second of round ``r``'s search."""
    cfg, ex = rd.config, rd.config.experiment
    seeds = list(cfg.seeds)
    masks, starts = {}, {}
    for seed in seeds:
        mask = chain_mask(rd, spec, cfg, seed, "earlybird", r)
        start = round_ticket(rd, spec, cfg, seed, r)
        if mask is None or start is None:
            raise SystemExit(
                f"{rd.path} has no earlybird mask of round {r} for seed {seed} yet; ask for "
                "rounds its searches have reached"
            )
        masks[seed], starts[seed] = mask, start.weights
    rules = {
        s: WeightRule(
            sum(int(m.sum()) for m in masks[s].values()), ex.earlybird_eps, ex.earlybird_window
        )
        for s in seeds
    }

    def watch(epoch: int, weights: Callable[[], list[Params]]) -> bool:
        for seed, w in zip(seeds, weights(), strict=True):
            prune_seed = derive_seed(seed, r, "prune")
            rules[seed].update(prune(w, masks[seed], spec, cfg.prune, prune_seed, starts[seed]))
        return False

    members = [Member(starts[s], masks[s], data, data_seed(cfg, s, r)) for s in seeds]
    train_cohort(members, spec, cfg.train, resolve("auto"), evaluate=False, on_epoch=watch)
    return {s: rules[s].distances for s in seeds}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("run")
    parser.add_argument("--rounds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    rd = RunDir.open(args.run)
    cfg = rd.config
    data = load_datasets(cfg)[cfg.data.dataset]
    spec = architecture(cfg.model, data.shape, data.num_classes)
    ex = cfg.experiment
    print(f"{args.run}: earlybird eps {ex.earlybird_eps}, window {ex.earlybird_window}")
    for r in args.rounds:
        for seed, ds in distances(rd, spec, data, r).items():
            d = " ".join(f"{x:.3f}" for x in ds)
            print(f"round {r}, seed {seed}: d after each epoch from the second: {d}")


if __name__ == "__main__":
    main()
