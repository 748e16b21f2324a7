"""The width test's reading, as tables from its rows (``results/width.md`` quotes them):

    .venv/bin/python scripts/width_reading.py results/width

One row per series (what was trained, how, at which depth and keep fraction), one column
per width: the cell's accuracy minus the target's in pp with Welch's 95% interval over
seeds (the page ``ticketlab width`` writes has the same intervals, one cell per line), in
bold where the whole interval lies above -1 pp (within 1 pp of the target). Then the logit
fit's test-split mean squared error to the target's logits (mean over seeds), and the kept
weights of each network shape. The untrained random masks (at chance) are left to that page.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ticketlab.analysis.width import Cell, cells
from ticketlab.api import width_rows

SERIES = {  # the reading's tables: kind, method, their heading
    ("subnetwork", "edgepopup"): "edge-popup on the frozen weights",
    ("subnetwork", "biprop"): "biprop on the frozen weights",
    ("fit", "edgepopup"): "edge-popup fitted to the target's logits",
    ("random_trained", ""): "a random mask, its weights trained",
}


def interval(c: Cell) -> str:
    return f"**{c.difference}**" if c.within else c.difference


def grid(
    title: str, found: list[Cell], widths: list[int], text: Callable[[Cell], str]
) -> list[str]:
    """A table of ``found``: a row per depth and keep fraction, a column per width."""
    head = ["depth", "keep", *(f"{w}x" for w in widths)]
    out = [title, "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    series = {(c.depth, c.keep) for c in found}
    for depth, keep in sorted(series, key=lambda s: (s[0], s[1] == "matched", s[1])):
        at = {c.width: c for c in found if (c.depth, c.keep) == (depth, keep)}
        values = (text(at[w]) if w in at else "" for w in widths)
        out.append(f"| {depth} | {keep} | " + " | ".join(values) + " |")
    return [*out, ""]


def reading(rows: list[dict[str, Any]]) -> str:
    found = cells(rows)
    widths = sorted({c.width for c in found})
    out = []
    for (kind, method), title in SERIES.items():
        mine = [c for c in found if (c.kind, c.method) == (kind, method)]
        out += grid(f"**{title}** (pp from the target)", mine, widths, interval) if mine else []
    fits = [c for c in found if c.kind == "fit"]
    if fits:
        title = "**logit MSE of the fitted subnetworks** (test split, mean over seeds)"
        out += grid(title, fits, widths, lambda c: f"{c.fit_mse:.3g}")
    shapes = [c for c in found if (c.kind, c.method) == ("subnetwork", "edgepopup")]
    title = "**kept weights** (every method alike; the random masks at the fixed fractions too)"
    out += grid(title, shapes, widths, lambda c: f"{c.kept:,}")
    return "\n".join(out)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    rows = width_rows(Path(sys.argv[1]))
    if not rows:
        print(f"{sys.argv[1]}: no width-test rows there (width.json)", file=sys.stderr)
        return 1
    print(reading(rows), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
