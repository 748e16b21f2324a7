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
import dataclasses
import datetime as dt
import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import torch
import yaml

from ticketlab.config import Config, from_dict, with_protocol
from ticketlab.errors import DamagedFile, TicketlabError, WriteError, warn
from ticketlab.experiments.lottery import TrainingKey, TrainingRecord, plan
from ticketlab.experiments.records import EVAL_FIELDS, FIELDS, PER_LAYER, SUPERMASK
from ticketlab.store import journal
from ticketlab.store.database import connect
from ticketlab.store.files import (
    FileCheckpoint,
    atomic_write_text,
    csv_text,
    exclusive,
    held,
    sweep_stale,
)
from ticketlab.store.integrity import CHECKSUMS, Checksums, load_tensors, save_tensors
from ticketlab.store.journal import JOURNAL

BRANCH_FILE = "branch.json"
FIGURES_INDEX = "figures.json"
PROGRESS_FILE = "progress.json"


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
        self.checksums = Checksums(path)
        if (path / BRANCH_FILE).is_file():
            info = _json(path / BRANCH_FILE, self.checksums.read_text(BRANCH_FILE), dict)
            self.rounds = info["rounds"]
            self.base = RunDir.open(os.path.normpath(path / info["base"]))

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
        text = Checksums(path).read_text("config.yaml")
        try:
            raw = with_protocol(yaml.safe_load(text))
        except yaml.YAMLError as e:
            raise DamagedFile(cfg_file, f"it is not valid YAML ({e})") from None
        return cls(path, from_dict(raw, where=str(cfg_file)))

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
                        existing.checksums.write_text("config.yaml", new.to_yaml())
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
        if path.is_dir() and any(p.name != CHECKSUMS for p in path.iterdir()):
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
        Checksums(path).write_text("config.yaml", config.to_yaml())
        return cls(path, config)

    def never_started(self) -> bool:
        """Nothing trained or written yet: no record, tensor or branch, only the config and
        the invocations that were refused before their first training."""
        if not (self.path / "run.json").is_file():  # never invoked: made by other means
            return False
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
            self.checksums.write_text("config.yaml", self.config.to_yaml())
            self.new_seeds = []

    # -- locking -------------------------------------------------------------------------
    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock for the duration of a run (released by the OS if killed). Once
        held, temporary files left by a killed writer are removed."""
        return exclusive(self.path)

    def live_status(self) -> dict[str, Any]:
        """``status`` with ``running`` for an unfinished run a process is training now."""
        st = self.status()
        if st["status"] != "complete" and self.running():
            st["status"] = "running"
        return st

    def running(self) -> bool:
        """Whether a ticketlab process holds the run's lock, i.e. is training it now."""
        return held(self.path)

    # -- database ------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            path = self.path / "metrics.sqlite"
            try:
                self._db = connect(path)
            except sqlite3.DatabaseError as e:
                remedy = (
                    f"The records journal holds every record: `ticketlab verify --repair "
                    f"{self.path}` rebuilds the database from it"
                    if (self.path / JOURNAL).is_file()
                    else None
                )
                raise DamagedFile(path, f"it is not a readable database ({e})", remedy) from None
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
        if self.config.experiment.save_weights:  # before the records that announce them
            for rec in records:
                self.save_tensors(weights_name(rec.key), rec.result.weights)
        try:
            self._record(records)
        except sqlite3.OperationalError as e:
            raise WriteError(self.path / "metrics.sqlite", e) from None

    def _record(self, records: list[TrainingRecord]) -> None:
        """Append the cohort's rows to the journal and make them durable, then commit the
        same rows to the database: a crash between the two loses nothing (``sync``)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        rows = []
        for rec in records:
            s = rec.summary() | {"finished_at": now}
            for f in PER_LAYER:
                s[f] = json.dumps(s[f])
            evals = [
                [
                    e.step,
                    e.val_loss,
                    e.val_acc,
                    e.test_loss,
                    e.test_acc,
                    e.sign_flip,
                    json.dumps(e.sign_flips),
                ]
                for e in rec.result.evals
            ]
            rows.append({"id": rec.key.id, "training": s, "evals": evals})
        try:
            journal.append(self.path / JOURNAL, rows)
        except OSError as e:
            raise WriteError(self.path / JOURNAL, e) from None
        with self.db:  # one transaction: all rows or none
            journal.insert(self.db, rows)

    def sync(self) -> int:
        """Under the run's lock, before training: bring the journal and the database into
        agreement. A run made before the journal gets one built from its database; a torn
        last line is cut; journal rows the database lacks (a crash between the journal's
        fsync and the commit) are inserted. Returns how many were inserted."""
        path = self.path / JOURNAL
        if not path.exists():
            if (self.path / "metrics.sqlite").exists():
                old = journal.from_database(self.db)
                if old:
                    journal.append(path, old)  # one line: the records as they stand
            return 0
        journal.drop_torn_tail(path)
        rows, _ = journal.read(path)
        have = self.completed()
        missing = [r for i, r in rows.items() if i not in have]
        if missing:
            with self.db:
                journal.insert(self.db, missing)
        return len(missing)

    def own_summaries(self) -> list[dict[str, Any]]:
        """One dict per finished training of this directory (not its branches), in run
        order (round, seed, kind), each with its ``training_id`` (the key of its
        evaluations)."""
        if not (self.path / "metrics.sqlite").exists():
            return []
        # The supermask accuracy: the test accuracy of the mask on the untrained starting
        # weights, the evaluation every training makes at step 0.
        columns = ", ".join(f"t.{f}" for f in FIELDS)
        cur = self.db.execute(
            f"SELECT {columns}, t.id, e.test_acc FROM trainings t "
            "LEFT JOIN evals e ON e.training_id = t.id AND e.step = 0 "
            "ORDER BY t.round, t.seed, t.dataset, t.setting, t.source, t.kind DESC, t.control"
        )
        out = []
        for row in cur:
            d = dict(zip([*FIELDS, "training_id", SUPERMASK], row, strict=True))
            for f in PER_LAYER:
                d[f] = None if d[f] is None else json.loads(d[f])
            out.append(d)
        return out

    def branches(self) -> list[RunDir]:
        """The run's branches, by name; a damaged one is left out with a warning (``verify``
        names the file)."""
        root = self.path / "branches"
        if not root.is_dir():
            return []
        out = []
        for p in sorted(root.iterdir()):
            if (p / "config.yaml").is_file() and (p / BRANCH_FILE).is_file():
                try:
                    out.append(RunDir.open(p))
                except DamagedFile as e:
                    warn(f"branch {p.name} left out: {e}")
        return out

    def trainings_by_id(self) -> dict[str, dict[str, Any]]:
        """Every finished training of this directory (not its branches) by its id, each
        with its evaluation points (``evals``), for loggers that need the id."""
        if not (self.path / "metrics.sqlite").exists():
            return {}
        cur = self.db.execute(f"SELECT id, {', '.join(FIELDS)} FROM trainings")
        out = {row[0]: dict(zip(FIELDS, row[1:], strict=True)) for row in cur}
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
            try:
                theirs = b.own_summaries()
            except DamagedFile as e:
                warn(f"branch {b.path.name} left out: {e}")
                continue
            for r in theirs:
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
        self.checksums.write_text(BRANCH_FILE, json.dumps(info, indent=1) + "\n")

    def load_tensors(self, name: str) -> dict[str, torch.Tensor] | None:
        """The tensors saved as ``name``, checked against their digest; None if absent."""
        p = self._tensor_path(name)
        if not p.is_file():
            return None
        try:
            return load_tensors(p)[0]
        except DamagedFile as e:
            control = name.startswith(("inits/", "masks/")) and "-" in name.rsplit("/", 1)[1]
            if not control and not name.endswith("/ticket"):  # made from trained weights
                remedy = (
                    "It was made from trained weights and cannot be rebuilt: restore it from "
                    f"a copy, or start the run over in a new directory (`ticketlab verify "
                    f"{self.path}` lists what else is damaged)"
                )
            else:
                remedy = f"`ticketlab verify --repair {self.path}` draws it again from the seeds"
            raise DamagedFile(p, e.what, remedy) from None

    def save_tensors(self, name: str, tensors: dict[str, torch.Tensor]) -> None:
        save_tensors(self._tensor_path(name), tensors)

    def checkpoint(self, key: str) -> FileCheckpoint:
        """The mid-training checkpoint of the cohort ``key`` (see ``train_modules``)."""
        return FileCheckpoint(self.path / "checkpoints" / f"{key}.pt")

    def export(self, dest: Path) -> list[Path]:
        """All metrics as ``trainings.csv``, ``evals.csv`` and ``trainings.json`` in
        ``dest``, for plotting in other tools."""
        rows = self.summaries()
        flat = [r | {f: json.dumps(r[f]) for f in PER_LAYER} for r in rows]
        paths = [dest / "trainings.csv", dest / "evals.csv", dest / "trainings.json"]
        columns = [*FIELDS, SUPERMASK, "training_id", "branch"]
        atomic_write_text(paths[0], csv_text(columns, flat))
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
        after them, lists files that all exist) and left every figure whole: otherwise the
        next run, resume or ``plot`` draws them again from the records."""
        index = self.path / "figures" / FIGURES_INDEX
        try:
            names = json.loads(index.read_text())
        except (OSError, ValueError):
            return False
        return isinstance(names, list) and all(figure_whole(index.parent / n) for n in names)

    def write_progress(self, progress: dict[str, Any]) -> None:
        atomic_write_text(self.path / PROGRESS_FILE, json.dumps(progress, indent=1) + "\n")

    def progress(self) -> dict[str, Any] | None:
        """Where a running run is (``progress.json``, written by it every 30 s); a damaged
        one is ignored with a warning (the next write replaces it)."""
        p = self.path / PROGRESS_FILE
        if not p.is_file():
            return None
        try:
            progress = json.loads(p.read_text())
            assert isinstance(progress, dict)
            return progress
        except (ValueError, AssertionError, OSError):
            warn(f"{p} is damaged; ignored (a running invocation rewrites it)")
            return None

    def meta(self) -> dict[str, Any]:
        if not (self.path / "run.json").is_file():
            return {"invocations": []}
        return _json(self.path / "run.json", self.checksums.read_text("run.json"), dict)

    def write_meta(self, meta: dict[str, Any]) -> None:
        self.checksums.write_text("run.json", json.dumps(meta, indent=2) + "\n")

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


def figure_whole(path: Path) -> bool:
    """A PNG with its signature and its end chunk, or an SVG that ends its root element."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if path.suffix == ".png":
        return data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")
    return data.rstrip().endswith(b"</svg>")


def _json(path: Path, text: str, kind: type) -> Any:
    """``text`` (read from ``path``) as JSON of type ``kind``, else ``DamagedFile``."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise DamagedFile(path, f"it is not valid JSON ({e})") from None
    if not isinstance(value, kind):
        raise DamagedFile(path, f"it holds no JSON {kind.__name__}")
    return value


def weights_name(key: TrainingKey) -> str:
    """Where a training's final weights go (``experiment.save_weights``), by its key."""
    who = key.kind if key.control is None else key.control
    setting = re.sub(r"[^A-Za-z0-9.]+", "-", key.setting).strip("-")
    return f"weights/seed{key.seed}/round{key.round:02d}-{key.dataset}-{setting}-{who}"


def _settings(cfg: Config) -> dict[str, dict[str, Any]]:
    """A config's optimiser settings by label (the label is part of a training's id)."""
    return {s.label(): dataclasses.asdict(s) for s in [cfg.train, *cfg.transfer_settings()]}


def _row_id(r: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two records the same training (the setting's label leaves out the batch
    size, so that is compared too)."""
    keys = (
        "round",
        "seed",
        "kind",
        "control",
        "dataset",
        "setting",
        "source",
        "batch_size",
        "steps",
    )
    return tuple(r[k] for k in keys)


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
