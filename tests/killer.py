"""Run the ticketlab command and SIGKILL it at a chosen point (a test helper).

    python -m tests.killer POINT N -- ticketlab arguments...

POINT is where the Nth event of a kind kills the process:

- ``step``: after the Nth optimizer step (mid-training);
- ``tensor``: the Nth tensor file (mask, init), its temporary file written, not renamed;
- ``text``: the Nth text file (config.yaml, run.json, report, export), likewise;
- ``figure``: the Nth figure file, likewise;
- ``record``: the Nth batch of finished trainings, inside its SQLite transaction, after
  the first training's rows and before the commit.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

import ticketlab.store.files as files
import ticketlab.store.rundir as store
import ticketlab.train.optim as trainer


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str, n: int) -> None:
    count = [0]

    def tick() -> None:
        count[0] += 1
        if count[0] == n:
            _die()

    if point == "step":
        make = trainer.make_optimizer

        def make_optimizer(*args: Any, **kw: Any) -> Any:
            opt = make(*args, **kw)
            step = opt.step

            def counted(*a: Any, **k: Any) -> Any:
                out = step(*a, **k)
                tick()
                return out

            opt.step = counted  # type: ignore[method-assign]
            return opt

        trainer.make_optimizer = make_optimizer  # type: ignore[assignment]
    elif point in ("tensor", "text", "figure"):
        write = files.atomic_write

        def atomic_write(path: Any, fn: Any) -> None:
            kind = (
                "tensor"
                if path.suffix == ".safetensors"
                else "figure"
                if path.suffix in (".png", ".svg")
                else "progress"  # progress.json: rewritten as the run goes, not counted
                if path.name == "progress.json"
                else "text"
            )

            def then_maybe_die(tmp: str) -> None:
                fn(tmp)
                if kind == point:
                    tick()

            write(path, then_maybe_die)

        import ticketlab.analysis.figures as figures
        import ticketlab.store.integrity as integrity

        # Every module that writes through it (atomic_write_text calls the one in files).
        for module in (files, store, figures, integrity):
            module.atomic_write = atomic_write  # type: ignore[attr-defined]
    elif point in ("journal", "commit"):
        import ticketlab.store.journal as journal

        real_append = journal.append

        def append(path: Any, rows: Any) -> None:
            if count[0] + 1 == n and point == "journal":  # die inside the batch's lines
                text = json.dumps(rows) + "\n"
                with open(path, "a") as f:
                    f.write(text[: len(text) // 2])
                    f.flush()
                    os.fsync(f.fileno())
            else:
                real_append(path, rows)  # "commit": durable in the journal, not in the db
            tick()

        journal.append = append  # type: ignore[assignment]
    elif point == "record":
        real = store.RunDir.db

        class Dying:
            """The connection, dying at the Nth batch's second statement."""

            def __init__(self, db: Any) -> None:
                self.db = db
                self.statements = 0

            def __getattr__(self, name: str) -> Any:
                return getattr(self.db, name)

            def __enter__(self) -> Any:
                self.statements = 0
                tick_at_second[0] = True
                return self.db.__enter__()

            def __exit__(self, *exc: Any) -> Any:
                return self.db.__exit__(*exc)

            def execute(self, *a: Any) -> Any:
                return self._counted(self.db.execute(*a))

            def executemany(self, *a: Any) -> Any:
                return self._counted(self.db.executemany(*a))

            def _counted(self, out: Any) -> Any:
                self.statements += 1
                if tick_at_second[0] and self.statements == 3:  # training, its evals, next
                    tick_at_second[0] = False
                    tick()
                return out

        tick_at_second = [False]
        wrapped: dict[int, Dying] = {}

        def db(self: store.RunDir) -> Any:
            conn = real.fget(self)  # type: ignore[attr-defined]
            return wrapped.setdefault(id(conn), Dying(conn))

        store.RunDir.db = property(db)  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    point, n, sep, *argv = sys.argv[1:]
    assert sep == "--"
    install(point, int(n))
    from ticketlab.cli import main

    sys.exit(main(argv))
