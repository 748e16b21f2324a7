"""What finding its masks costs each mask source, for a preset's model and data:

    OMP_NUM_THREADS=1 .venv/bin/python scripts/source_cost.py [--preset seed] [--levels 30]

For one seed, every level 1..N of the preset's schedule (N: as many as the mask sources
would train, down to 0.1% of the weights), layer-wise: wall time and scoring passes per
source, in total over the levels.
"""

from __future__ import annotations

import sys
import time

import torch

import ticketlab
from ticketlab.api import load_datasets
from ticketlab.experiments.lottery import last_level, scoring_batch, ticket_start
from ticketlab.models.registry import architecture
from ticketlab.pruning.magnitude import full_mask, level_counts
from ticketlab.pruning.sources import SOURCES, Context, find_mask


def main(argv: list[str]) -> None:
    name = argv[argv.index("--preset") + 1] if "--preset" in argv else "seed"
    cfg = ticketlab.load_config(
        preset_name=name,
        overrides=["transfer.datasets=[]", "experiment.mask_sources=[magnitude]"],
    )
    ds = load_datasets(cfg)[cfg.data.dataset]
    spec = architecture(cfg.model, ds.shape, ds.num_classes)
    levels = int(argv[argv.index("--levels") + 1]) if "--levels" in argv else last_level(cfg)
    ticket = ticket_start(spec, cfg, 0)
    full = full_mask(spec, cfg.prune)
    x, y = scoring_batch(ds, cfg.experiment.source_batch_per_class, 0)
    print(f"{cfg.model.name} on {ds.name}, {levels} levels, {torch.get_num_threads()} thread(s)")
    print("| source | seconds, all levels | per level | scoring passes per level |")
    print("| --- | ---: | ---: | ---: |")
    for source in SOURCES.values():
        start = time.perf_counter()
        for r in range(1, levels + 1):
            ctx = Context(spec.apply, ticket.weights, ds.shape, x, y, r)
            found = find_mask(
                source, ctx, full, level_counts(spec, cfg.prune, r), "layerwise", list(full)
            )
        total = time.perf_counter() - start
        print(f"| {source.name} | {total:.2f} | {total / levels:.3f} | {found.passes} |")


if __name__ == "__main__":
    main(sys.argv[1:])
