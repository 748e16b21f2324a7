"""Opening a run's database while another process adds the same new columns."""

import sqlite3
import threading
import time
from pathlib import Path

from ticketlab.store.database import ADDED_COLUMNS, SCHEMA, connect


def test_a_database_another_process_is_upgrading_opens_without_adding_a_column_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "metrics.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    other.executescript(SCHEMA)  # a database from before the added columns
    # The other process holds the write lock with every column added, not yet committed:
    # our first look sees the old schema.
    other.execute("BEGIN IMMEDIATE")
    for table, column, kind in ADDED_COLUMNS:
        other.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    opened: list[object] = []

    def open_it() -> None:
        try:
            db = connect(path)
            opened.append([row[1] for row in db.execute("PRAGMA table_info(trainings)")])
        except sqlite3.Error as e:
            opened.append(e)

    t = threading.Thread(target=open_it)
    t.start()
    time.sleep(0.5)  # well inside sqlite's 5 s wait for the lock
    other.execute("COMMIT")
    t.join(timeout=30)
    columns = opened[0]
    assert isinstance(columns, list), columns  # not "duplicate column name: ..."
    assert len(columns) == len(set(columns)) and "precision" in columns
