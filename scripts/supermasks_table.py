"""The one-shot supermask table of a run's ``supermasks.json`` (``ticketlab supermasks``):

    .venv/bin/python scripts/supermasks_table.py results/study2-trunk/supermasks.json

Untrained test accuracy (%) by criterion and fraction of weights kept, mean over seeds with
the range, for each start (original initial values, signed constant).
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
    densities = sorted({r["density"] for r in rows}, reverse=True)
    seeds = len({r["seed"] for r in rows})
    for start in dict.fromkeys(r["start"] for r in rows):
        print(f"\n{start} ({seeds} seeds): mean [min, max]\n")
        print("| criterion | " + " | ".join(f"{d:.0%} kept" for d in densities) + " |")
        print("| --- |" + " ---: |" * len(densities))
        for name in dict.fromkeys(r["criterion"] for r in rows):
            cells = []
            for d in densities:
                v = by[(start, name, d)]
                cells.append(f"{sum(v) / len(v):.1f} [{min(v):.1f}, {max(v):.1f}]")
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
