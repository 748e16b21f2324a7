"""The width test's pilot rule, fixed before running (``scripts/study.sh width-pilot``):

    .venv/bin/python scripts/width_pilot.py runs/width-5ep runs/width

The first part of the width test trains scores for 5 epochs; the issue's 20 epochs cost four
times as much. The pilot trains the same cells for 20 epochs at widths 1 and 2 (twice the
depth at 1). The 5 epochs stand if every score-trained cell there (edge-popup and biprop
subnetworks at each keep fraction and the matched one, and edge-popup fitted to the
target's logits), averaged over its seeds, gains less than 1 pp of test accuracy from 5 to
20 epochs. Prints each cell's means, the gain and the verdict; a cell the short run has not
reached yet is listed as missing (one cell's gain of 1 pp decides; a verdict for 5 epochs
waits for every cell).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCORED = ("subnetwork", "fit")
THRESHOLD = 0.01


def gains(
    short: list[dict[str, Any]], long: list[dict[str, Any]]
) -> list[tuple[str, float | None, float]]:
    """Per score-trained cell of the long (pilot) run: the short run's mean accuracy over
    the seeds both have (None while it has none), and the long run's on the same seeds."""

    def means(rows: list[dict[str, Any]]) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {}
        for r in rows:
            if r["kind"] in SCORED:
                out.setdefault(r["cell"], {})[r["seed"]] = r["test_acc"]
        return out

    s, lg = means(short), means(long)
    out = []
    for cell, by_seed in sorted(lg.items()):
        seeds = sorted(set(by_seed) & set(s.get(cell, {})))
        if not seeds:
            out.append((cell, None, sum(by_seed.values()) / len(by_seed)))
            continue
        out.append(
            (
                cell,
                sum(s[cell][k] for k in seeds) / len(seeds),
                sum(by_seed[k] for k in seeds) / len(seeds),
            )
        )
    return out


def verdict(rows: list[tuple[str, float | None, float]]) -> str:
    """One cell's gain of 1 pp decides against 5 epochs; a verdict for them waits for all."""
    worst = max((b - a for _, a, b in rows if a is not None), default=None)
    if worst is not None and worst >= THRESHOLD:
        return f"5 epochs do not stand: a cell gains {worst * 100:+.2f} pp from 5 to 20 epochs"
    if worst is None or any(a is None for _, a, _ in rows):
        return "waiting: some cells of the short run are missing"
    return f"5 epochs stand: the largest gain from 5 to 20 epochs is {worst * 100:+.2f} pp"


def main(argv: list[str]) -> None:
    short, long = (json.loads((Path(a) / "width.json").read_text()) for a in argv[:2])
    rows = gains(short, long)
    print("| cell | 5 epochs % | 20 epochs % | gain (pp) |")
    print("| --- | --- | --- | --- |")
    for cell, a, b in rows:
        got = "missing" if a is None else f"{a * 100:.2f}"
        gain = "" if a is None else f"{(b - a) * 100:+.2f}"
        print(f"| {cell} | {got} | {b * 100:.2f} | {gain} |")
    print()
    print(verdict(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
