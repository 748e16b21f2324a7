"""The run's SQLite database: its schema, the columns added since the first release, and
the connection settings that make a committed batch of records survive a power loss."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS trainings (
    id TEXT PRIMARY KEY,
    round INTEGER NOT NULL, seed INTEGER NOT NULL, kind TEXT NOT NULL, control TEXT,
    dataset TEXT NOT NULL, setting TEXT NOT NULL, optimizer TEXT NOT NULL, lr REAL NOT NULL,
    momentum REAL NOT NULL, batch_size INTEGER NOT NULL, steps INTEGER NOT NULL,
    weights_remaining REAL NOT NULL, weights_remaining_per_layer TEXT NOT NULL,
    final_test_acc REAL NOT NULL, final_test_loss REAL NOT NULL, final_val_acc REAL NOT NULL,
    es_step INTEGER NOT NULL, es_test_acc REAL NOT NULL, es_val_loss REAL NOT NULL,
    wall_time_s REAL NOT NULL, cohort_size INTEGER NOT NULL,
    init_seed INTEGER NOT NULL, data_seed INTEGER NOT NULL, finished_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evals (
    training_id TEXT NOT NULL REFERENCES trainings(id), step INTEGER NOT NULL,
    val_loss REAL NOT NULL, val_acc REAL NOT NULL, test_loss REAL NOT NULL,
    test_acc REAL NOT NULL, PRIMARY KEY (training_id, step)
);
"""

# Columns added after the first release: (table, column, type). A database made before
# gets them (null in its old rows) when opened.
ADDED_COLUMNS = (
    ("trainings", "sign_flip_final", "REAL"),
    ("trainings", "sign_flip_es", "REAL"),
    ("trainings", "sign_flips_final", "TEXT"),
    ("trainings", "sign_flips_es", "TEXT"),
    ("trainings", "units_without_inputs", "TEXT"),
    ("trainings", "source", "TEXT"),
    ("trainings", "mask_seconds", "REAL"),
    ("trainings", "mask_passes", "INTEGER"),
    ("trainings", "mask_steps", "INTEGER"),
    ("trainings", "search_epochs", "INTEGER"),
    ("trainings", "search_steps", "INTEGER"),
    ("trainings", "search_examples", "INTEGER"),
    ("trainings", "search_distance", "REAL"),
    ("trainings", "frozen_test_acc", "REAL"),
    ("trainings", "precision", "TEXT"),
    ("trainings", "kernels", "TEXT"),
    ("evals", "sign_flip", "REAL"),
    ("evals", "sign_flips", "TEXT"),
)


def _missing(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    have = {
        table: {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for table in {t for t, _, _ in ADDED_COLUMNS}
    }
    return [(t, c, k) for t, c, k in ADDED_COLUMNS if c not in have[t]]


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) ``path`` with the schema, adding the columns a database made
    before them lacks (null in its old rows)."""
    db = sqlite3.connect(path)
    # Rollback journal with full syncs: a committed batch survives a power loss.
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA)
    if _missing(db):
        # Another process (a sweep's driver reading a trial its worker is creating) may be
        # adding the same columns: look again under the write lock, and add what is left.
        db.execute("BEGIN IMMEDIATE")
        for table, column, kind in _missing(db):
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        db.commit()
    return db
