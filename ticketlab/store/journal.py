"""The records journal, ``records.jsonl``: every finished training's row and evaluation
points, appended and fsynced before the same rows are committed to ``metrics.sqlite``, so
the records outlive a damaged database.

One line per cohort, as it is committed: a JSON list of its trainings, each ``{"id": ...,
"training": {column: value}, "evals": [[...], ...]}`` with the values exactly as the
database holds them. A line cut short by a crash (the last one, without its newline) is
dropped whole, so a cohort is in the journal entirely or not at all, as in the database;
for an id written twice, the last line wins."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from ticketlab.errors import DamagedFile
from ticketlab.experiments.records import EVAL_FIELDS, FIELDS

JOURNAL = "records.jsonl"

Row = dict[str, Any]  # {"id": str, "training": {field: value}, "evals": [[value, ...]]}


def append(path: Path, rows: list[Row]) -> None:
    """Append ``rows`` (one cohort) as one line and make it durable before returning."""
    new = not path.exists()
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rows, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())
    if new:  # the directory entry too
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read(path: Path) -> tuple[dict[str, Row], int]:
    """The journal's rows by training id (the last line of an id wins) and the length of
    its intact part in bytes (a torn last line is left out). A damaged line before the
    last is ``DamagedFile``."""
    data = path.read_bytes()
    rows: dict[str, Row] = {}
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:  # the last line, cut short by a crash
            break
        try:
            for row in json.loads(data[start:end]):
                rows[row["id"]] = row
        except (ValueError, KeyError, TypeError):
            line = data[:start].count(b"\n") + 1
            raise DamagedFile(
                path,
                f"line {line} is not a cohort's records",
                "The database may still hold the records: `ticketlab verify RUN` compares "
                "them; restore the journal from a copy or start the run over",
            ) from None
        start = end + 1
    return rows, start


def drop_torn_tail(path: Path) -> None:
    """Cut a last line left incomplete by a crash, so the next append starts a new line."""
    _, intact = read(path)
    if intact < path.stat().st_size:
        os.truncate(path, intact)


def insert(db: sqlite3.Connection, rows: list[Row]) -> None:
    """Insert ``rows`` (replacing a training's row and evaluations if present); the caller
    holds the transaction. A line written before a field existed (``database.ADDED_COLUMNS``:
    added at the end of a row and of an evaluation point) gives it null, as a database made
    before the field holds it, so newer code rebuilds an older run's database."""
    cols = ", ".join(("id", *FIELDS))
    marks = ", ".join("?" * (len(FIELDS) + 1))
    points = len(EVAL_FIELDS) - 1
    for r in rows:
        db.execute(
            f"INSERT OR REPLACE INTO trainings ({cols}) VALUES ({marks})",
            (r["id"], *(r["training"].get(f) for f in FIELDS)),
        )
        db.execute("DELETE FROM evals WHERE training_id = ?", (r["id"],))
        db.executemany(
            f"INSERT INTO evals ({', '.join(EVAL_FIELDS)}) "
            f"VALUES ({', '.join('?' * len(EVAL_FIELDS))})",
            [(r["id"], *e, *[None] * (points - len(e))) for e in r["evals"]],
        )


def from_database(db: sqlite3.Connection) -> list[Row]:
    """Every training in the database as journal rows (for runs made before the journal)."""
    trainings = db.execute(f"SELECT id, {', '.join(FIELDS)} FROM trainings ORDER BY rowid")
    evals: dict[str, list[list[Any]]] = {}
    cur = db.execute(f"SELECT {', '.join(EVAL_FIELDS)} FROM evals ORDER BY training_id, step")
    for e in cur:
        evals.setdefault(e[0], []).append(list(e[1:]))
    return [
        {
            "id": t[0],
            "training": dict(zip(FIELDS, t[1:], strict=True)),
            "evals": evals.get(t[0], []),
        }
        for t in trainings
    ]


def database_ids(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT id FROM trainings")}
