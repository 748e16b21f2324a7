"""The supermask table of a run's ``supermasks.json`` (``ticketlab supermasks``):

    .venv/bin/python scripts/supermasks_table.py results/study2-trunk/supermasks.json \
        [results/study2-trunk/export]

Untrained test accuracy (%) by criterion (one-shot) or method (learned, with ``--learned``)
and fraction of weights kept, mean over seeds with the range, for each start (original
initial values, signed constant); the Bernoulli supermask, which keeps what it learned to
keep, on a line of its own. With learned masks, a second table: each learned method minus
the one-shot ``large_final`` mask (IMP's criterion) at the same fraction and start, paired
by seed, with 95% t intervals and Holm-adjusted p-values over that table's comparisons
(one family). With the run's export, a third: each learned mask against the run's IMP
ticket at the IMP level nearest its fraction (the same seed's initial weights), both the
ticket's mask on those untrained weights (``supermask_acc``) and the trained ticket
(``es_test_acc``), paired by seed, Holm over that table.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

from ticketlab.analysis.stats import holm, paired_test
from ticketlab.experiments.supermasks import Supermask

REFERENCE = "large_final"  # IMP's criterion: the one-shot mask learned masks are set against


def labelled(rows: list[dict]) -> list[dict]:
    """Each row's criterion replaced by its label (``Supermask.label``: a learned method
    with its score learning rate, so masks learned at two settings are two methods)."""
    return [r | {"criterion": Supermask(**r).label} for r in rows]


def main(path: str) -> None:
    rows = labelled(json.loads(Path(path).read_text()))
    by: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for r in rows:
        by[(r["start"], r["criterion"], r["density"])].append(r["test_acc"] * 100)
    densities = sorted(
        {r["density"] for r in rows if not r["criterion"].startswith("bernoulli")}, reverse=True
    )
    seeds = len({r["seed"] for r in rows})
    for start in dict.fromkeys(r["start"] for r in rows):
        print(f"\n{start} ({seeds} seeds): mean [min, max]\n")
        print("| criterion | " + " | ".join(f"{d:.0%} kept" for d in densities) + " |")
        print("| --- |" + " ---: |" * len(densities))
        for name in dict.fromkeys(
            r["criterion"] for r in rows if not r["criterion"].startswith("bernoulli")
        ):
            cells = [
                _mean_range(by[(start, name, d)]) if by[(start, name, d)] else "" for d in densities
            ]
            learned = any(r.get("learned") for r in rows if r["criterion"] == name)
            print(f"| {name}{' (learned)' if learned else ''} | " + " | ".join(cells) + " |")
        for name in dict.fromkeys(
            r["criterion"] for r in rows if r["criterion"].startswith("bernoulli")
        ):
            mine = [r for r in rows if r["criterion"] == name and r["start"] == start]
            kept = [r["weights_remaining"] * 100 for r in mine]
            acc = [r["test_acc"] * 100 for r in mine]
            sampled = [r["sampled_test_acc"] * 100 for r in mine]
            print(
                f"\n{name} supermask ({len(mine)} seeds), thresholded at 0.5: "
                f"{_mean_range(kept)}% of weights kept, {_mean_range(acc)}% test accuracy; "
                f"mean of sampled masks {_mean_range(sampled)}%"
            )


def comparisons(rows: list[dict]) -> list[str]:
    """Markdown lines: each learned method (edge-popup, biprop) minus the one-shot
    ``REFERENCE`` mask at every fraction and start both have, paired by seed (pp)."""
    acc = {(r["criterion"], r["start"], r["density"], r["seed"]): 100 * r["test_acc"] for r in rows}
    learned = [m for m in dict.fromkeys(r["criterion"] for r in rows if r.get("learned"))]
    found = []
    for method in (m for m in learned if not m.startswith("bernoulli")):
        for start in dict.fromkeys(r["start"] for r in rows):
            for d in sorted({r["density"] for r in rows if r["criterion"] == method}, reverse=True):
                seeds = sorted(
                    s
                    for (m, st, dd, s) in acc
                    if (m, st, dd) == (method, start, d) and (REFERENCE, start, d, s) in acc
                )
                diffs = [acc[(method, start, d, s)] - acc[(REFERENCE, start, d, s)] for s in seeds]
                if seeds:
                    found.append((method, start, d, paired_test(diffs)))
    if not found:
        return []
    adjusted = holm([t.p if t.p is not None else 1.0 for *_, t in found])
    lines = [
        f"\nLearned minus one-shot `{REFERENCE}` (pp), paired by seed; 95% t intervals; "
        f"Holm over these {len(found)} comparisons (one family)\n",
        "| method | start | kept | seeds | difference | 95% interval | Holm p |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for (method, start, d, t), p in zip(found, adjusted, strict=True):
        ci = "none" if t.ci is None else f"[{t.ci[0]:+.1f}, {t.ci[1]:+.1f}]"
        lines.append(f"| {method} | {start} | {d:.0%} | {t.n} | {t.mean:+.1f} | {ci} | {p:.3g} |")
    return lines


def against_imp(rows: list[dict], export: Path) -> list[str]:
    """Markdown lines: learned masks (original initial values, the ticket's own start) minus
    the run's IMP ticket at the level nearest each fraction, untrained and trained."""
    with (export / "trainings.csv").open() as f:
        imp = [
            r
            for r in csv.DictReader(f)
            if r["kind"] == "ticket" and not r["source"] and not r["branch"]
        ]
    levels = {int(r["round"]): float(r["weights_remaining"]) for r in imp}
    by = {(int(r["round"]), int(r["seed"])): r for r in imp}
    found = []
    for r0 in dict.fromkeys(
        (r["criterion"], r["density"])
        for r in rows
        if r.get("learned") and not r["criterion"].startswith("bernoulli")
    ):
        method, keep = r0
        level = min(levels, key=lambda lv: abs(levels[lv] - keep))
        mine = {
            r["seed"]: 100 * r["test_acc"]
            for r in rows
            if r.get("learned")
            and (r["criterion"], r["density"], r["start"]) == (method, keep, "init")
        }
        seeds = sorted(s for s in mine if (level, s) in by)
        for field, what in (("supermask_acc", "untrained"), ("es_test_acc", "trained")):
            diffs = [mine[s] - 100 * float(by[(level, s)][field]) for s in seeds]
            found.append((method, keep, level, levels[level], what, paired_test(diffs)))
    if not found:
        return []
    adjusted = holm([t.p if t.p is not None else 1.0 for *_, t in found])
    lines = [
        "\nLearned mask on the untrained initial values minus the IMP ticket of the same seed at "
        f"the nearest level (pp), untrained (its mask on the same weights) and trained; 95% t "
        f"intervals; Holm over these {len(found)} comparisons (one family)\n",
        "| method | kept | IMP level | IMP weights | ticket | difference | 95% interval | Holm p |",
        "| --- | ---: | ---: | ---: | --- | ---: | --- | ---: |",
    ]
    for (method, keep, level, dens, what, t), p in zip(found, adjusted, strict=True):
        ci = "none" if t.ci is None else f"[{t.ci[0]:+.1f}, {t.ci[1]:+.1f}]"
        lines.append(
            f"| {method} | {keep:.0%} | {level} | {dens:.1%} | {what} | {t.mean:+.1f} | {ci} "
            f"| {p:.3g} |"
        )
    return lines


def _mean_range(v: list[float]) -> str:
    return f"{sum(v) / len(v):.1f} [{min(v):.1f}, {max(v):.1f}]"


if __name__ == "__main__":
    main(sys.argv[1])
    found = labelled(json.loads(Path(sys.argv[1]).read_text()))
    print("\n".join(comparisons(found)))
    if len(sys.argv) > 2:
        print("\n".join(against_imp(found, Path(sys.argv[2]))))
