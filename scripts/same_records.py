"""Whether a run's own trainings (its branches aside) equal those of a committed export,
field for field but for timings: a trunk re-run on another machine must, before branches
recorded against the old one are paired with it or resumed on it.

    .venv/bin/python scripts/same_records.py runs/study2-trunk results/study2-trunk/export

Exit 0 when every committed training is there with equal fields, 1 (with the first
differences) otherwise. With ``--branches``, print instead the branches the committed
export holds and the run directory lacks (lost with another machine), nothing if none.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

from ticketlab.api import export
from ticketlab.experiments.records import differing_fields


def own(path: Path) -> dict[str, dict[str, str]]:
    """The export's trainings of the run itself (no branch), by training id."""
    with open(path, newline="") as f:
        return {r["training_id"]: r for r in csv.DictReader(f) if not r.get("branch")}


def lacking(run: Path, committed: Path) -> list[str]:
    """The branches in the committed export (as its ``branch`` column names them) that
    ``run`` has no directory for; none when there is no committed export."""
    path = committed / "trainings.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        branches = {r["branch"] for r in csv.DictReader(f) if r.get("branch")}
    return sorted(b for b in branches if not (run / b).is_dir())


def differences(run: Path, committed: Path) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        export(run, Path(tmp) / "export")
        new = own(Path(tmp) / "export" / "trainings.csv")
    old = own(committed / "trainings.csv")
    out = []
    for tid, row in old.items():
        other = new.get(tid)
        if other is None:
            out.append(f"{tid}: not in {run}")
            continue
        fields = differing_fields(row, other)
        if fields:
            k = fields[0]
            out.append(f"{tid}: {', '.join(fields)} differ ({k}: {row[k]} against {other[k]})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("export", type=Path, help="the committed export folder")
    parser.add_argument(
        "--branches", action="store_true", help="list the export's branches the run lacks"
    )
    args = parser.parse_args()
    if args.branches:
        print(" ".join(lacking(args.run, args.export)))
        return
    found = differences(args.run, args.export)
    for line in found[:10]:
        print(line)
    n = len(own(args.export / "trainings.csv"))
    print(f"{n - len(found)} of {n} trainings equal" + ("" if not found else "; not the same run"))
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
