"""Can bf16 be trusted for a ticket-versus-control study? The paired bf16-minus-fp32
difference in the ticket-minus-control gap, from the exports of two runs that differ only
in ``train.precision``:

    .venv/bin/python scripts/precision_effect.py FP32_EXPORT BF16_EXPORT [--control reinit]
        [--levels A-B] [--names fp32 bf16]

Each export is a run's ``export`` folder (``ticketlab export``). At every level (round) of
the main dataset and setting, per seed: gap = ticket minus control (test accuracy at early
stopping, pp), and the effect is the bf16 run's gap minus the fp32 run's, paired by seed
(both runs draw the same initial weights and data orders per seed). Reported per level and
pooled over the levels (each seed's mean effect), with 95% t intervals.

The verdict is the rule "trust bf16 for such studies only if every level's 95% interval lies
within +-1 pp and the pooled one within +-0.3 pp". It is an intersection-union test (every
condition must hold), so its error rate needs no multiplicity correction; the per-level
intervals are therefore plain 95% intervals, not adjusted for the number of levels.

``--levels A-B`` applies the rule to those levels only, and pools over them (e.g. the
levels a study's report pools: no disconnected network). ``--names`` labels the two runs
when they differ in something else (two fp32 runs of different summation order give the
reference: how far runs differ with no change of precision at all).
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ticketlab.analysis.stats import Test, paired_test, pooled_test

LEVEL_BOUND = 1.0  # pp: each level's interval must lie within +-this
POOLED_BOUND = 0.3  # pp: the pooled interval must lie within +-this


@dataclass
class Effect:
    level: int | None  # None: pooled over the levels
    test: Test

    def within(self, bound: float) -> bool:
        return self.test.ci is not None and -bound <= self.test.ci[0] <= self.test.ci[1] <= bound


def gaps(rows: list[dict[str, Any]], control: str) -> dict[int, dict[int, float]]:
    """``gaps[round][seed]``: ticket minus ``control`` in pp, on the main dataset under the
    main setting (IMP's own tickets: no mask source, the first dataset and setting)."""
    imp = [r for r in rows if not r.get("source")]
    if not imp:
        raise SystemExit("no IMP records in the export")
    main = (imp[0]["dataset"], imp[0]["setting"])
    acc: dict[tuple[int, int, str], float] = {}
    for r in imp:
        if (r["dataset"], r["setting"]) != main:
            continue
        arm = "ticket" if r["kind"] == "ticket" else r["control"]
        acc[(int(r["round"]), int(r["seed"]), arm)] = 100 * float(r["es_test_acc"])
    out: dict[int, dict[int, float]] = {}
    for (rnd, seed, arm), v in acc.items():
        if arm == "ticket" and (rnd, seed, control) in acc:
            out.setdefault(rnd, {})[seed] = v - acc[(rnd, seed, control)]
    return out


def effects(
    fp32: list[dict[str, Any]],
    bf16: list[dict[str, Any]],
    control: str = "reinit",
    levels: range | None = None,
) -> list[Effect]:
    """Per level (rounds both runs trained, seeds both have; within ``levels`` if given),
    then pooled over them (last)."""
    a, b = gaps(fp32, control), gaps(bf16, control)
    diffs = {
        lv: {s: b[lv][s] - a[lv][s] for s in sorted(set(a[lv]) & set(b[lv]))}
        for lv in sorted(set(a) & set(b))
        if levels is None or lv in levels
    }
    out = [Effect(lv, paired_test(list(d.values()))) for lv, d in diffs.items()]
    pooled, _, _ = pooled_test(diffs, list(diffs))
    return [*out, Effect(None, pooled)]


def read(export: Path) -> list[dict[str, Any]]:
    with (export / "trainings.csv").open() as f:
        return list(csv.DictReader(f))


def markdown(found: list[Effect], control: str, names: tuple[str, str] = ("fp32", "bf16")) -> str:
    levels, pooled = found[:-1], found[-1]
    trusted = all(e.within(LEVEL_BOUND) for e in levels) and pooled.within(POOLED_BOUND)

    def row(e: Effect) -> str:
        ci = "no interval" if e.test.ci is None else f"[{e.test.ci[0]:+.2f}, {e.test.ci[1]:+.2f}]"
        bound = POOLED_BOUND if e.level is None else LEVEL_BOUND
        where = "pooled" if e.level is None else str(e.level)
        inside = "yes" if e.within(bound) else "no"
        return f"| {where} | {e.test.n} | {e.test.mean:+.2f} | {ci} | {inside} |"

    lines = [
        f"{names[1]} minus {names[0]} in the ticket-minus-{control} gap (pp, test accuracy "
        "at early stopping), paired by seed, 95% t intervals (per level unadjusted: the rule is an "
        "intersection-union test)",
        "",
        "| level | seeds | mean | 95% interval | within bound |",
        "| --- | ---: | ---: | --- | --- |",
        *(row(e) for e in found),
        "",
        f"Bounds: +-{LEVEL_BOUND} pp at every level, +-{POOLED_BOUND} pp pooled. "
        + (
            f"Every interval lies within its bound: by this rule {names[1]} can be trusted for "
            "such studies."
            if trusted
            else f"Not every interval lies within its bound: by this rule {names[1]} cannot "
            "be trusted for such studies (an interval past a bound is not evidence of a "
            "difference; it fails to rule one out)."
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fp32", type=Path)
    ap.add_argument("bf16", type=Path)
    ap.add_argument("--control", default="reinit")
    ap.add_argument("--levels", help="A-B: only these levels, pooled over them")
    ap.add_argument("--names", nargs=2, default=["fp32", "bf16"], help="the runs' labels")
    args = ap.parse_args()
    levels = None
    if args.levels is not None:
        lo, _, hi = args.levels.partition("-")
        levels = range(int(lo), int(hi or lo) + 1)
    found = effects(read(args.fp32), read(args.bf16), args.control, levels)
    print(markdown(found, args.control, tuple(args.names)))


if __name__ == "__main__":
    main()
