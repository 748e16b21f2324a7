"""A run directory: resolved config, environment and timings, metrics, masks and weights.

Layout::

    RUN_DIR/
      config.yaml        the resolved config (the run's identity)
      run.json           versions, device, one entry per invocation with its timings
      metrics.sqlite     table ``trainings`` (one row per finished training) and table
                         ``evals`` (one row per network per evaluation point)
      masks/seed{S}/round{RR}.safetensors            the ticket's mask at round RR
      masks/seed{S}/round{RR}-random_mask.safetensors  the random-mask control's mask
      inits/seed{S}/ticket.safetensors               the original initial weights
      inits/seed{S}/round{RR}-reinit.safetensors     the re-init control's weights
      inits/seed{S}/rewind.safetensors               weights at experiment.rewind_step
      figures/                                       figure1.png / .svg
      branches/<name>-<hash>/                        branches: run directories of their own
                                                     (plus branch.json) that train more
                                                     controls and transfers on this run's
                                                     masks and inits

Every file is written to a temporary name and renamed into place, and each batch of
finished trainings is one SQLite transaction, so a run killed at any moment leaves nothing
half-written. A lock file keeps two processes from writing one run.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import fcntl
import io
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ticketlab.config import Config, from_dict, with_protocol
from ticketlab.errors import RunLocked, TicketlabError, WriteError
from ticketlab.experiments.lottery import TrainingRecord, plan
from ticketlab.train import denormals
from ticketlab.version import __version__

BRANCH_FILE = "branch.json"
FIGURES_INDEX = "figures.json"
PROGRESS_FILE = "progress.json"

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
    ("evals", "sign_flip", "REAL"),
    ("evals", "sign_flips", "TEXT"),
)
JSON_FIELDS = (
    "weights_remaining_per_layer",
    "units_without_inputs",
    "sign_flips_final",
    "sign_flips_es",
)
EVAL_FIELDS = (
    "training_id",
    "step",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "sign_flip",
    "sign_flips",
)

SUMMARY_FIELDS = (
    "round",
    "seed",
    "kind",
    "control",
    "dataset",
    "setting",
    "optimizer",
    "lr",
    "momentum",
    "batch_size",
    "steps",
    "weights_remaining",
    "weights_remaining_per_layer",
    "units_without_inputs",
    "final_test_acc",
    "final_test_loss",
    "final_val_acc",
    "es_step",
    "es_test_acc",
    "es_val_loss",
    "sign_flip_final",
    "sign_flip_es",
    "sign_flips_final",
    "sign_flips_es",
    "wall_time_s",
    "cohort_size",
    "init_seed",
    "data_seed",
    "finished_at",
)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: str | Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)``, then make the file durable and rename it over ``path``: a
    crash or power loss leaves the old file or the new one, never a partial or empty one.
    The file gets the mode a plain write would (0666 less the umask), not mkstemp's 0600.
    Any failure to write (disk full, permissions, quota) is a ``WriteError`` naming
    ``path``."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{path.name}.{os.getpid()}."  # the writer's pid: see sweep_stale
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except (OSError, SafetensorError) as e:
        raise WriteError(path, e) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


STALE = re.compile(r"\.(\d+)\.[^.]+\.tmp$")


def sweep_stale(root: Path) -> None:
    """Remove temporary files under ``root`` left by writers that no longer run (killed
    mid-write); those of a live writer (a report beside a run) are left alone."""
    for tmp in root.rglob(".*.tmp"):
        match = STALE.search(tmp.name)
        if match is None:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:  # alive, another user's
            pass


class FileCheckpoint:
    """A training's saved state in one file, written like every run file (temporary name,
    fsync, rename) and read back with ``torch.load(weights_only=True)``: tensors, numbers
    and lists only, never arbitrary pickled objects."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        return torch.load(self.path, weights_only=True)

    def save(self, state: dict[str, Any]) -> None:
        atomic_write(self.path, lambda tmp: torch.save(state, tmp))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def source_version() -> dict[str, Any]:
    """The git commit of the ticketlab code that runs, and whether its tree has changes
    not committed (null for both when it does not run from a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit, "git_dirty": bool(status.strip())}


def environment(device: torch.device) -> dict[str, Any]:
    env = {
        "ticketlab": __version__,
        **source_version(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "denormals": denormals.check(),
        "device": str(device),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
        env["deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()
    return env


class RunDir:
    """An opened run directory. ``RunDir.open`` reads one; ``RunDir.create`` makes or
    re-opens one for a config, refusing a directory that holds a different config."""

    def __init__(self, path: Path, config: Config, new_seeds: list[int] | None = None) -> None:
        self.path = path
        self.config = config
        self.new_seeds = new_seeds or []  # seeds to add to the run (``save_seeds``)
        self._db: sqlite3.Connection | None = None
        # A branch (``branch.json``): the rounds it trains and the base run it builds on.
        self.rounds: list[int] | None = None
        self.base: RunDir | None = None
        branch = path / BRANCH_FILE
        if branch.is_file():
            info = json.loads(branch.read_text())
            self.rounds = info["rounds"]
            self.base = RunDir.open(path / info["base"])

    @property
    def skip(self) -> frozenset[str]:
        """Ids of the trainings a branch does not train: the base run's, and those another
        branch of the same run has finished with the very same optimiser setting (its
        records already show them beside the run)."""
        if self.base is None:
            return frozenset()
        ids = set(self.base.skip_for_branches())
        mine = _settings(self.config)
        for other in self.base.branches():
            if other.path.resolve() != self.path.resolve():
                theirs = _settings(other.config)
                same = {label for label, s in theirs.items() if mine.get(label) == s}
                ids |= {i for i in other.completed() if i.rsplit("/", 2)[1] in same}
                other.close()
        return frozenset(ids)

    def skip_for_branches(self) -> frozenset[str]:
        return frozenset(k.id for k in plan(self.config))

    @property
    def label(self) -> str | None:
        """``branches/<name>-<hash>`` for a branch, None for a run."""
        return None if self.base is None else f"branches/{self.path.name}"

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        path = Path(path)
        cfg_file = path / "config.yaml"
        if not path.exists():
            raise TicketlabError(
                f"{path} does not exist; `ticketlab ls` lists the runs under runs/"
            )
        if not cfg_file.is_file():
            raise TicketlabError(f"{path} is not a ticketlab run directory (no config.yaml)")
        try:
            raw = with_protocol(yaml.safe_load(cfg_file.read_text()))
            cfg = from_dict(raw, where=str(cfg_file))
        except yaml.YAMLError as e:
            raise TicketlabError(f"{cfg_file} is not valid YAML: {e}") from None
        return cls(path, cfg)

    @classmethod
    def create(cls, path: str | Path, config: Config) -> RunDir:
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise TicketlabError(f"run directory {path} exists and is not a directory")
        if (path / "config.yaml").is_file():
            existing = cls.open(path)
            old, new = existing.config, config
            added = [s for s in new.seeds if s not in old.seeds]
            if old.identity_hash() != new.identity_hash() and not (
                set(old.seeds) <= set(new.seeds)
                and old.identity_but_seeds() == new.identity_but_seeds()
            ):
                if existing.never_started():
                    # Refused before its first training (a bad model name, missing data,
                    # no GPU): the corrected command takes the directory over.
                    with existing.lock():
                        atomic_write_text(path / "config.yaml", new.to_yaml())
                    return cls(path, new)
                diff = _diff(old.to_dict(), new.to_dict())
                hint = ""
                if old.protocol < new.protocol:
                    hint = (
                        f" It was made under config protocol {old.protocol}; `ticketlab resume "
                        f"{path}` resumes it as it was made."
                    )
                raise TicketlabError(
                    f"{path} holds a run of a different config ({'; '.join(diff)}). Use "
                    f"another --out, or delete that directory to start over.{hint}"
                )
            if not os.access(path, os.W_OK):
                raise TicketlabError(f"run directory {path} is not writable")
            if added:
                old.seeds = [*old.seeds, *added]
            return cls(path, old, added)
        if path.is_dir():
            sweep_stale(path)  # a first run killed while writing its config.yaml
        if path.is_dir() and any(path.iterdir()):
            raise TicketlabError(
                f"{path} exists, is not empty and holds no ticketlab run (no config.yaml); "
                "choose a new or empty directory for --out"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise TicketlabError(f"run directory {path} is not writable: {e}") from None
        atomic_write_text(path / "config.yaml", config.to_yaml())
        return cls(path, config)

    def never_started(self) -> bool:
        """Nothing trained or written yet: no record, tensor or branch, only the config and
        the invocations that were refused before their first training."""
        if (self.path / "branches").exists() or next(self.path.rglob("*.safetensors"), None):
            return False
        if not (self.path / "metrics.sqlite").exists():
            return True
        (n,) = self.db.execute("SELECT COUNT(*) FROM trainings").fetchone()
        self.close()
        return n == 0

    def save_seeds(self) -> None:
        """Record the seeds ``create`` was asked to add (under the lock): the existing
        seeds' records stay as they are, and the run trains only the new seeds."""
        if self.new_seeds:
            atomic_write_text(self.path / "config.yaml", self.config.to_yaml())
            self.new_seeds = []

    # -- locking -------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock for the duration of a run (released by the OS if killed). Once
        held, temporary files left by a killed writer are removed."""
        with open(self.path / ".lock", "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip()
                raise RunLocked(self.path, int(holder) if holder.isdigit() else None) from None
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            sweep_stale(self.path)
            yield

    def live_status(self) -> dict[str, Any]:
        """``status`` with ``running`` for an unfinished run a process is training now."""
        st = self.status()
        if st["status"] != "complete" and self.running():
            st["status"] = "running"
        return st

    def running(self) -> bool:
        """Whether a ticketlab process holds the run's lock, i.e. is training it now."""
        try:
            with open(self.path / ".lock") as f:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:  # no lock file (never run) or unreadable: nobody is writing
            return False
        return False

    # -- database ------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.path / "metrics.sqlite")
            # Rollback journal with full syncs: a committed batch survives a power loss.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            for table, column, kind in ADDED_COLUMNS:
                have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def completed(self) -> set[str]:
        if not (self.path / "metrics.sqlite").exists():
            return set()
        return {row[0] for row in self.db.execute("SELECT id FROM trainings")}

    def record(self, records: list[TrainingRecord]) -> None:
        """Record finished trainings in one transaction (all rows or none); a failed write
        (disk full) is a ``WriteError`` and leaves the database as it was."""
        try:
            self._record(records)
        except sqlite3.OperationalError as e:
            raise WriteError(self.path / "metrics.sqlite", e) from None

    def _record(self, records: list[TrainingRecord]) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self.db:  # one transaction: all rows or none
            for rec in records:
                s = rec.summary() | {"finished_at": now}
                for f in JSON_FIELDS:
                    s[f] = json.dumps(s[f])
                cols = ", ".join(("id", *SUMMARY_FIELDS))
                marks = ", ".join("?" * (len(SUMMARY_FIELDS) + 1))
                self.db.execute(
                    f"INSERT OR REPLACE INTO trainings ({cols}) VALUES ({marks})",
                    (rec.key.id, *(s[f] for f in SUMMARY_FIELDS)),
                )
                self.db.execute("DELETE FROM evals WHERE training_id = ?", (rec.key.id,))
                self.db.executemany(
                    f"INSERT INTO evals ({', '.join(EVAL_FIELDS)}) "
                    f"VALUES ({', '.join('?' * len(EVAL_FIELDS))})",
                    [
                        (
                            rec.key.id,
                            e.step,
                            e.val_loss,
                            e.val_acc,
                            e.test_loss,
                            e.test_acc,
                            e.sign_flip,
                            json.dumps(e.sign_flips),
                        )
                        for e in rec.result.evals
                    ],
                )

    def own_summaries(self) -> list[dict[str, Any]]:
        """One dict per finished training of this directory (not its branches), in run
        order (round, seed, kind), each with its ``training_id`` (the key of its
        evaluations)."""
        if not (self.path / "metrics.sqlite").exists():
            return []
        cur = self.db.execute(
            f"SELECT {', '.join(SUMMARY_FIELDS)}, id FROM trainings "
            "ORDER BY round, seed, dataset, setting, kind DESC, control"
        )
        out = []
        for row in cur:
            d = dict(zip([*SUMMARY_FIELDS, "training_id"], row, strict=True))
            for f in JSON_FIELDS:
                d[f] = None if d[f] is None else json.loads(d[f])
            out.append(d)
        return out

    def branches(self) -> list[RunDir]:
        """The run's branches, by name."""
        root = self.path / "branches"
        if not root.is_dir():
            return []
        return [
            RunDir.open(p)
            for p in sorted(root.iterdir())
            if (p / "config.yaml").is_file() and (p / BRANCH_FILE).is_file()
        ]

    def trainings_by_id(self) -> dict[str, dict[str, Any]]:
        """Every finished training of this directory (not its branches) by its id, each
        with its evaluation points (``evals``), for loggers that need the id."""
        if not (self.path / "metrics.sqlite").exists():
            return {}
        cur = self.db.execute(f"SELECT id, {', '.join(SUMMARY_FIELDS)} FROM trainings")
        out = {row[0]: dict(zip(SUMMARY_FIELDS, row[1:], strict=True)) for row in cur}
        for r in out.values():
            r["evals"] = []
        for e in self.evals():
            out[e["training_id"]]["evals"].append(e)
        return out

    def summaries(self) -> list[dict[str, Any]]:
        """The run's records and its branches', each with ``branch`` (null for the run's
        own): what ``show --json`` prints and ``report``, ``export`` and the figures
        present."""
        rows = [r | {"branch": None} for r in self.own_summaries()]
        seen = {_row_id(r) for r in rows}
        for b in self.branches():
            for r in b.own_summaries():
                if _row_id(r) not in seen:  # two branches may train the same thing
                    seen.add(_row_id(r))
                    rows.append(r | {"branch": b.label})
            b.close()
        return rows

    def all_evals(self) -> list[dict[str, Any]]:
        rows = [r | {"branch": None} for r in self.evals()]
        for b in self.branches():
            rows += [r | {"branch": b.label} for r in b.evals()]
            b.close()
        return rows

    def evals(self) -> list[dict[str, Any]]:
        if not (self.path / "metrics.sqlite").exists():
            return []
        cur = self.db.execute(
            f"SELECT {', '.join(EVAL_FIELDS)} FROM evals ORDER BY training_id, step"
        )
        return [dict(zip(EVAL_FIELDS, row, strict=True)) for row in cur]

    # -- tensors -------------------------------------------------------------------------
    def _tensor_path(self, name: str) -> Path:
        return self.path / f"{name}.safetensors"

    def has_tensors(self, name: str) -> bool:
        return self._tensor_path(name).is_file()

    def write_branch(self, base: Path, rounds: list[int], overrides: list[str]) -> None:
        """Mark this directory as a branch of the run in ``base`` (its parent's parent)."""
        info = {"base": os.path.relpath(base, self.path), "rounds": rounds, "set": overrides}
        atomic_write_text(self.path / BRANCH_FILE, json.dumps(info, indent=1) + "\n")

    def load_tensors(self, name: str) -> dict[str, torch.Tensor] | None:
        p = self._tensor_path(name)
        return load_file(p) if p.is_file() else None

    def save_tensors(self, name: str, tensors: dict[str, torch.Tensor]) -> None:
        data = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        atomic_write(self._tensor_path(name), lambda tmp: save_file(data, tmp))

    def checkpoint(self, key: str) -> FileCheckpoint:
        """The mid-training checkpoint of the cohort ``key`` (see ``train_modules``)."""
        return FileCheckpoint(self.path / "checkpoints" / f"{key}.pt")

    def export(self, dest: Path) -> list[Path]:
        """All metrics as ``trainings.csv``, ``evals.csv`` and ``trainings.json`` in
        ``dest``, for plotting in other tools."""
        rows = self.summaries()
        flat = [r | {f: json.dumps(r[f]) for f in JSON_FIELDS} for r in rows]
        paths = [dest / "trainings.csv", dest / "evals.csv", dest / "trainings.json"]
        atomic_write_text(paths[0], csv_text([*SUMMARY_FIELDS, "training_id", "branch"], flat))
        atomic_write_text(paths[1], csv_text([*EVAL_FIELDS, "branch"], self.all_evals()))
        atomic_write_text(paths[2], json.dumps(rows, indent=1) + "\n")
        return paths

    # -- status and metadata -------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """``complete``, or ``interrupted`` / ``not started`` with the first unfinished
        round, plus counts (``running()`` tells whether a process is at it now)."""
        keys = plan(self.config, self.rounds, self.skip)
        done = self.completed()
        missing = [k for k in keys if k.id not in done]
        if not missing:
            state = "complete"
        elif not done:
            state = "not started"
        else:
            state = "interrupted"
        return {
            "status": state,
            "trainings_done": len(keys) - len(missing),
            "trainings_total": len(keys),
            "next_round": missing[0].round if missing else None,
        }

    def figures_done(self) -> bool:
        """Whether the last drawing of the figures finished (``figures/figures.json``, written
        after them, lists files that all exist)."""
        index = self.path / "figures" / FIGURES_INDEX
        if not index.is_file():
            return False
        return all((index.parent / name).is_file() for name in json.loads(index.read_text()))

    def write_progress(self, progress: dict[str, Any]) -> None:
        atomic_write_text(self.path / PROGRESS_FILE, json.dumps(progress, indent=1) + "\n")

    def progress(self) -> dict[str, Any] | None:
        """Where a running run is (``progress.json``, written by it every 30 s)."""
        p = self.path / PROGRESS_FILE
        return json.loads(p.read_text()) if p.is_file() else None

    def meta(self) -> dict[str, Any]:
        p = self.path / "run.json"
        return json.loads(p.read_text()) if p.is_file() else {"invocations": []}

    def write_meta(self, meta: dict[str, Any]) -> None:
        atomic_write_text(self.path / "run.json", json.dumps(meta, indent=2) + "\n")

    def recorded_data_dir(self) -> Path | None:
        """The explicit data folder the latest invocation of this run (for a branch: of the
        branch, else of its base run) was given, if that folder still exists: where
        ``resume`` and ``branch`` look when not given one."""
        for rd in (self, self.base):
            if rd is None:
                continue
            for inv in reversed(rd.meta()["invocations"]):
                folder = inv.get("data_dir")
                if folder and Path(folder).is_dir():
                    return Path(folder)
        return None


def _settings(cfg: Config) -> dict[str, dict[str, Any]]:
    """A config's optimiser settings by label (the label is part of a training's id)."""
    return {s.label(): dataclasses.asdict(s) for s in [cfg.train, *cfg.transfer_settings()]}


def _row_id(r: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two records the same training (the setting's label leaves out the batch
    size, so that is compared too)."""
    keys = ("round", "seed", "kind", "control", "dataset", "setting", "batch_size", "steps")
    return tuple(r[k] for k in keys)


def csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if k in ("name", "protocol") and not prefix:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} there, {b!r} now")
    return out
