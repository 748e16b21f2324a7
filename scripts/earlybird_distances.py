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
from ticketlab.experiments.searches import Searcher, chain_mask
from ticketlab.models.params import Params
from ticketlab.models.registry import Architecture, architecture
from ticketlab.pruning.magnitude import prune
from ticketlab.store.rundir import RunDir
from ticketlab.train.cohort import Member, train_cohort


def distances(rd: RunDir, spec: Architecture, data: Dataset, r: int) -> dict[int, list[float]]:
    """Each seed's d after every epoch from the second of round ``r``'s search."""
    cfg = rd.config
    seeds = list(cfg.seeds)
    searcher = Searcher(cfg, spec, data, rd, resolve("auto"))
    searches = []
    for seed in seeds:
        start = round_ticket(rd, spec, cfg, seed, r)
        if start is None or chain_mask(rd, spec, cfg, seed, "earlybird", r) is None:
            raise SystemExit(
                f"{rd.path} has no earlybird mask of round {r} for seed {seed} yet; ask for "
                "rounds its searches have reached"
            )
        searches.append(searcher.plan(r, seed, "earlybird", start.weights))

    def watch(epoch: int, weights: Callable[[], list[Params]]) -> bool:
        # Unlike the run's own hook, every epoch is measured, also after the rule fired.
        for s, w in zip(searches, weights(), strict=True):
            assert s.rule is not None
            s.rule.update(prune(w, s.mask, spec, cfg.prune, s.prune_seed, s.init))
        return False

    members = [Member(s.init, s.mask, data, data_seed(cfg, s.seed, r)) for s in searches]
    train_cohort(members, spec, cfg.train, searcher.device, evaluate=False, on_epoch=watch)
    return {s.seed: s.rule.distances for s in searches if s.rule is not None}


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
