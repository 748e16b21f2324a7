"""The accuracy table of a mask-source run's export, for its results page:

    .venv/bin/python scripts/sources_table.py results/sources/export [--rounds 1 3 5 ...]

Test accuracy at early stopping (%), mean over seeds, of every source's ticket and each of
its checks (IMP's first, as ``source: arm``) on the run's main dataset and setting, at the
rounds asked (default all), each column headed by its weights remaining. A cell is empty
where the arm did not train at that round.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path


def table(rows: list[dict[str, str]], rounds: list[int] | None = None) -> str:
    main = [r for r in rows if not r["branch"]]
    first = main[0]
    main = [r for r in main if (r["dataset"], r["setting"]) == (first["dataset"], first["setting"])]
    acc: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    weights: dict[int, float] = {}
    for r in main:
        arm = (r["source"] or "IMP", r["control"] or "ticket")
        rnd = int(r["round"])
        acc[arm][rnd].append(float(r["es_test_acc"]))
        if arm == ("IMP", "ticket"):
            weights[rnd] = float(r["weights_remaining"])
        else:
            weights.setdefault(rnd, float(r["weights_remaining"]))
    cols = sorted(weights) if rounds is None else rounds
    arms = sorted(acc, key=lambda a: (a[0] != "IMP", a[0], a[1] != "ticket", a[1]))
    lines = [
        "| source | arm | " + " | ".join(f"{weights[c] * 100:.3g}%" for c in cols) + " |",
        "| --- | --- |" + " ---: |" * len(cols),
    ]
    for source, arm in arms:
        cells = [acc[source, arm].get(c) for c in cols]
        lines.append(
            f"| {source} | {arm} | "
            + " | ".join(f"{sum(v) / len(v) * 100:.2f}" if v else "" for v in cells)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--rounds", type=int, nargs="+")
    args = parser.parse_args()
    with (args.export / "trainings.csv").open() as f:
        rows = list(csv.DictReader(f))
    print(table(rows, args.rounds))


if __name__ == "__main__":
    main()
