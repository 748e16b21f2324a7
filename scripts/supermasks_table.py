"""The supermask table of a run's ``supermasks.json`` (``ticketlab supermasks``):

    .venv/bin/python scripts/supermasks_table.py results/study2-trunk/supermasks.json

Untrained test accuracy (%) by criterion (one-shot) or method (learned, with ``--learned``)
and fraction of weights kept, mean over seeds with the range, for each start (original
initial values, signed constant); the Bernoulli supermask, which keeps what it learned to
keep, on a line of its own.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(path: str) -> None:
    rows = json.loads(Path(path).read_text())
    by: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for r in rows:
        by[(r["start"], r["criterion"], r["density"])].append(r["test_acc"] * 100)
    densities = sorted({r["density"] for r in rows if r["criterion"] != "bernoulli"}, reverse=True)
    seeds = len({r["seed"] for r in rows})
    for start in dict.fromkeys(r["start"] for r in rows):
        print(f"\n{start} ({seeds} seeds): mean [min, max]\n")
        print("| criterion | " + " | ".join(f"{d:.0%} kept" for d in densities) + " |")
        print("| --- |" + " ---: |" * len(densities))
        for name in dict.fromkeys(r["criterion"] for r in rows if r["criterion"] != "bernoulli"):
            cells = [
                _mean_range(by[(start, name, d)]) if by[(start, name, d)] else "" for d in densities
            ]
            learned = any(r.get("learned") for r in rows if r["criterion"] == name)
            print(f"| {name}{' (learned)' if learned else ''} | " + " | ".join(cells) + " |")
        mine = [r for r in rows if r["criterion"] == "bernoulli" and r["start"] == start]
        if mine:
            kept = [r["weights_remaining"] * 100 for r in mine]
            acc = [r["test_acc"] * 100 for r in mine]
            sampled = [r["sampled_test_acc"] * 100 for r in mine]
            print(
                f"\nBernoulli supermask ({len(mine)} seeds), thresholded at 0.5: "
                f"{_mean_range(kept)}% of weights kept, {_mean_range(acc)}% test accuracy; "
                f"mean of sampled masks {_mean_range(sampled)}%"
            )


def _mean_range(v: list[float]) -> str:
    return f"{sum(v) / len(v):.1f} [{min(v):.1f}, {max(v):.1f}]"


if __name__ == "__main__":
    main(sys.argv[1])
