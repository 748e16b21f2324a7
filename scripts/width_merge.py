"""Add to a width-test folder the rows that another folder of the same test holds for cells
it lacks: one width test split over two processes (or machines), read as one.

    .venv/bin/python scripts/width_merge.py runs/width runs/width-b

The folders must be of one test: the same training setting and data, the same plan but for
its lists of cells and whether the logit fit runs (neither changes another cell's rows),
every invocation of the second at a commit one of the first's ran at, from clean trees;
and every row both hold (a cell and seed in both, such as the targets') must be equal but
for its wall time. Otherwise nothing is written and the exit status is 1. The first folder
gains the other's rows for the cells it lacks, and its ``width-run.json`` the other's
invocations, each marked with the folder it ran into, so that it names every invocation
that made its rows. The next ``ticketlab width`` into the first folder finds those cells
done; with every cell of its plan there it draws the figure. It holds both folders'
locks while it works: a ``ticketlab width`` writing into either refuses it, and it refuses
one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ticketlab.api import WIDTH_GROWS, WIDTH_ROWS, WIDTH_RUN, width_rows
from ticketlab.errors import TicketlabError
from ticketlab.store.files import atomic_write_text, exclusive

FREE = (*WIDTH_GROWS, "fit")  # the plan's fields two parts of one test may differ in


def key(row: dict[str, Any]) -> tuple[str, int]:
    return row["cell"], row["seed"]


def problems(into: dict[str, Any], other: dict[str, Any], dirty: bool = False) -> list[str]:
    """Why two folders' ``width-run.json`` are not parts of one test (none if they are).
    An invocation from a tree with uncommitted changes ran code its commit does not name:
    refused unless ``dirty``."""
    out = [f"their {k} differ" for k in ("train", "data") if into.get(k) != other.get(k)]
    a, b = ({k: v for k, v in m["plan"].items() if k not in FREE} for m in (into, other))
    out += [f"their plans' {k} differ" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    # The tool lets a later commit resume a folder; a merge brings in no code the first
    # folder's rows were not already made with.
    new = {r["git_commit"] for r in other["invocations"]} - {
        r["git_commit"] for r in into["invocations"]
    }
    if new:
        out.append(f"the second ran at commits the first never did ({', '.join(sorted(new))})")
    runs = into["invocations"] + other["invocations"]
    if not dirty and any(r["git_dirty"] for r in runs):
        out.append("an invocation ran from a tree with uncommitted changes")
    return out


def merge(into: Path, other: Path, dirty: bool = False) -> int:
    """Merge ``other``'s rows into ``into``; the number of rows added (``ValueError`` with
    every reason, and nothing written, when they are not parts of one test; ``RunLocked``
    while a command writes into either)."""
    with exclusive(into), exclusive(other):
        return _merge(into, other, dirty)


def _merge(into: Path, other: Path, dirty: bool) -> int:
    meta = json.loads((into / WIDTH_RUN).read_text())
    their_meta = json.loads((other / WIDTH_RUN).read_text())
    reasons = problems(meta, their_meta, dirty)
    rows, theirs = width_rows(into), width_rows(other)
    mine = {key(r): r for r in rows}
    for r in theirs:
        same = mine.get(key(r))
        if same is not None and {**same, "wall_s": 0} != {**r, "wall_s": 0}:
            reasons.append(f"{r['cell']} seed {r['seed']} differs between them")
    if reasons:
        raise ValueError(f"{other} is not part of the width test in {into}: {'; '.join(reasons)}")
    done = {r["cell"] for r in rows}
    new = [r for r in theirs if r["cell"] not in done]
    # Their invocations first (once each), then the rows: stopped between the two writes,
    # the same command completes the merge.
    known = {(r["started"], r.get("merged_from")) for r in meta["invocations"]}
    runs = [{**r, "merged_from": other.name} for r in their_meta["invocations"]]
    meta["invocations"] += [r for r in runs if (r["started"], other.name) not in known]
    atomic_write_text(into / WIDTH_RUN, json.dumps(meta, indent=1) + "\n")
    if new:
        atomic_write_text(into / WIDTH_ROWS, json.dumps(rows + new, indent=1) + "\n")
    return len(new)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("into", type=Path, help="the folder that gains the rows")
    parser.add_argument("other", type=Path, help="the folder of the test's other part")
    parser.add_argument(
        "--dirty", action="store_true", help="accept invocations from uncommitted trees"
    )
    args = parser.parse_args()
    try:
        added = merge(args.into, args.other, args.dirty)
    except (ValueError, TicketlabError) as e:
        print(e, file=sys.stderr)
        return 1
    except OSError as e:
        print(
            f"{e}: give two folders of `ticketlab width` (each with {WIDTH_RUN})", file=sys.stderr
        )
        return 1
    print(f"{added} rows of {args.other} added to {args.into}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
