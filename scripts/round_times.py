"""Per-round times of a finished run, from its ``metrics.sqlite``.

    python scripts/round_times.py RUN [--split 7]

For each round: the weights remaining, the round's span (from the last ``finished_at`` of the
round before to its own last ``finished_at``; round 0 has none) and each cohort's
``wall_time_s`` (a cohort is the trainings of one round sharing a ``cohort_size`` and a
``wall_time_s``). Then the sums of the cohorts' times for the rounds before ``--split`` and
from it on (the seed preset's dense and sparse parts), which is how the performance page
reads a timed run.
"""

from __future__ import annotations

import argparse
import sqlite3
from datetime import datetime
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--split", type=int, default=7)
    args = parser.parse_args()
    db = sqlite3.connect(args.run / "metrics.sqlite")
    columns = {c[1] for c in db.execute("PRAGMA table_info(trainings)")}
    kernels = "kernels" if "kernels" in columns else "NULL"  # not recorded by older runs
    rows = db.execute(
        "SELECT round, weights_remaining, wall_time_s, cohort_size, finished_at, "
        f"{kernels} FROM trainings ORDER BY round"
    ).fetchall()
    if not rows:
        raise SystemExit(f"{args.run}: no trainings recorded yet")
    rounds: dict[int, dict] = {}
    for r, w, wall, size, finished, kernels in rows:
        entry = rounds.setdefault(
            r, {"w": w, "cohorts": set(), "end": finished, "kernels": kernels}
        )
        entry["end"] = max(entry["end"], finished)
        entry["cohorts"].add((size, round(wall, 3)))
    print("| round | weights | round span | cohorts (size: wall s) | kernels (first cohort) |")
    print("| ---: | ---: | ---: | --- | --- |")
    before = after = 0.0
    prev_end: str | None = None
    for r in sorted(rounds):
        e = rounds[r]
        span = ""
        if prev_end is not None:
            gap = datetime.fromisoformat(e["end"]) - datetime.fromisoformat(prev_end)
            span = f"{gap.total_seconds():.0f} s"
        prev_end = e["end"]
        cohorts = ", ".join(f"{s}: {w:.1f}" for s, w in sorted(e["cohorts"]))
        total = sum(w for _, w in e["cohorts"])
        if r < args.split:
            before += total
        else:
            after += total
        print(f"| {r} | {100 * e['w']:.1f}% | {span} | {cohorts} | {e['kernels'] or ''} |")
    print(f"\ncohorts' wall time: rounds < {args.split}: {before:.0f} s;", end=" ")
    print(f"rounds >= {args.split}: {after:.0f} s")


if __name__ == "__main__":
    main()
