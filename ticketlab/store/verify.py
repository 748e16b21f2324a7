"""Checking a run directory file by file: what is intact, unchecked (written before
checksums existed), missing, damaged, and what can be rebuilt from what.

What recovers each kind of file:

- ``metrics.sqlite``: rebuilt from the records journal (``records.jsonl``);
- the ticket's initial weights, the controls' initial weights and random masks: drawn
  again from the seeds, bit for bit, where the round's mask (and, with late resetting, the
  rewind weights) is intact;
- figures, reports, exports: redrawn from the records;
- ``progress.json`` and checkpoints: not needed (ignored; a cohort retrains from its start);
- round masks, rewind weights, saved final weights: made from trained weights, so they
  cannot be rebuilt without retraining.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ticketlab.errors import DamagedFile
from ticketlab.experiments.lottery import control_file
from ticketlab.experiments.searches import SEARCHED, mask_file, search_file
from ticketlab.store import journal
from ticketlab.store.database import connect
from ticketlab.store.integrity import CHECKED, Checksums, load_tensors
from ticketlab.store.journal import JOURNAL
from ticketlab.store.rundir import FIGURES_INDEX, PROGRESS_FILE, RunDir

# What a damaged file of each kind needs from the user.
RETRAINED = (
    "made from trained weights, so it cannot be rebuilt: restore it from a copy, or start "
    "the run over in a new directory (a branch or resume of the rounds before it still works)"
)


@dataclass
class Finding:
    """One file of a run directory and its state: ``ok``, ``unchecked``, ``missing``,
    ``damaged`` or ``rebuildable`` (damaged or missing, and rebuilt by ``--repair``)."""

    path: Path
    state: str
    detail: str = ""

    @property
    def bad(self) -> bool:
        return self.state in ("missing", "damaged", "rebuildable")


def check(path: str | Path) -> tuple[list[Finding], RunDir | None]:
    """Every file of the run in ``path`` and of its branches, and the opened run (None
    when its config cannot be read)."""
    root = Path(path)
    if not (root / "config.yaml").exists():
        RunDir.open(root)  # the usual message: no such directory, or no run there
    findings: list[Finding] = []
    _text_files(root, findings)
    try:
        rd = RunDir.open(root)
    except DamagedFile:
        return findings, None
    if rd.running():
        findings.append(Finding(root, "running", "a process is training it; check it later"))
        return findings, rd
    _records(rd, findings)
    findings += tensor_findings(rd)
    _other_files(rd, findings)
    for b in sorted((root / "branches").glob("*/config.yaml")):
        more, _ = check(b.parent)
        findings += more
    return findings, rd


def _text_files(root: Path, findings: list[Finding]) -> None:
    sums = Checksums(root)
    try:
        sums.table()
    except DamagedFile as e:
        findings.append(Finding(sums.path, "rebuildable", f"{e.what}; rewritten from the files"))
        return
    for name in CHECKED:
        state = sums.status(name)
        if name == "branch.json" and state == "missing":
            continue  # only branches have one
        detail = {
            "damaged": "does not match its checksum",
            "unchecked": "written before checksums",
            "missing": "the run cannot be opened without it",
        }.get(state, "")
        findings.append(Finding(root / name, state, detail))


def _records(rd: RunDir, findings: list[Finding]) -> None:
    db_path, j_path = rd.path / "metrics.sqlite", rd.path / JOURNAL
    rows: dict[str, journal.Row] | None = None
    if j_path.is_file():
        try:
            rows, intact = journal.read(j_path)
            torn = intact < j_path.stat().st_size
            detail = "a torn last line, cut at the next run" if torn else ""
            findings.append(Finding(j_path, "ok", detail))
        except DamagedFile as e:
            findings.append(Finding(j_path, "damaged", e.what))
    elif db_path.exists():
        findings.append(Finding(j_path, "unchecked", "made before the journal; built next run"))
    if not db_path.exists():
        if rows:
            findings.append(Finding(db_path, "rebuildable", "missing; rebuilt from the journal"))
        return
    try:
        db = connect(db_path)
        (result,) = db.execute("PRAGMA integrity_check").fetchone()
        if result != "ok":
            raise sqlite3.DatabaseError(result)
        have = journal.database_ids(db)
        db.close()
    except sqlite3.DatabaseError as e:
        fix = "rebuilt from the journal" if rows is not None else "no journal to rebuild it from"
        state = "rebuildable" if rows is not None else "damaged"
        findings.append(Finding(db_path, state, f"not a readable database ({e}); {fix}"))
        return
    lacking = set(rows or {}) - have
    if lacking:
        findings.append(
            Finding(db_path, "rebuildable", f"lacks {len(lacking)} records the journal holds")
        )
    elif rows is not None and have - set(rows):
        findings.append(
            Finding(
                j_path,
                "damaged",
                f"lacks {len(have - set(rows))} records the database holds; delete it and the "
                "next run builds it again from the database",
            )
        )
    else:
        findings.append(Finding(db_path, "ok"))


def expected_tensors(rd: RunDir) -> dict[str, str]:
    """The tensor files the run's records imply, by name, each with what it is: the ticket's
    init per seed, the mask of every round trained after the first, the controls' files."""
    out: dict[str, str] = {}
    rows = _trainings(rd)
    if rd.base is None:  # a branch saves its controls only
        for seed in {r["seed"] for r in rows}:
            out[f"inits/seed{seed}/ticket"] = "init"
    for r in rows:
        seed, rnd = r["seed"], r["round"]
        if r.get("source") in SEARCHED and rnd > 0 and rd.base is None:
            out[mask_file(seed, r["source"], rnd)] = "mask"
            out[search_file(seed, r["source"], rnd)] = "search"
        if r.get("source"):  # a scoring source's masks are found again from the seeds
            continue
        if rnd > 0 and rd.base is None:
            out[f"masks/seed{seed}/round{rnd:02d}"] = "mask"
            if rd.config.experiment.rewind_step > 0:
                out[f"inits/seed{seed}/rewind"] = "rewind"
        if r["control"] == "inverted" and rd.base is None:  # made from trained weights
            out[control_file(seed, rnd, "inverted")] = "mask"
        elif r["control"] is not None and r["control"] != "inverted":
            out[control_file(seed, rnd, r["control"])] = "control"
    return out


def _trainings(rd: RunDir) -> list[dict[str, Any]]:
    """The run's own records: from the database, else (damaged) from the journal."""
    try:
        return rd.own_summaries()
    except DamagedFile:
        rd.close()
    try:
        rows, _ = journal.read(rd.path / JOURNAL)
    except (DamagedFile, OSError):
        return []
    return [r["training"] for r in rows.values()]


def tensor_findings(rd: RunDir) -> list[Finding]:
    """The state of every tensor file the records of ``rd`` imply or its folders hold
    (``check`` skips a run whose lock is held; ``verify --repair`` holds it)."""
    findings: list[Finding] = []
    expected = expected_tensors(rd)
    present = {
        str(p.relative_to(rd.path).with_suffix("")): p
        for p in rd.path.glob("*/seed*/*.safetensors")
    }
    for name in sorted(set(expected) | set(present)):
        kind = expected.get(name, "mask" if name.startswith("masks/") else "weights")
        if name.startswith(("masks/", "inits/")) and "-" in name.rsplit("/", 1)[1]:
            kind = "control"  # round{RR}-<control>
        path = rd.path / f"{name}.safetensors"
        rebuild = kind in ("init", "control")
        if name not in present:
            findings.append(
                Finding(
                    path,
                    "rebuildable" if rebuild else "missing",
                    "drawn again from the seeds" if rebuild else RETRAINED,
                )
            )
            continue
        try:
            _, checked = load_tensors(path)
            findings.append(Finding(path, "ok" if checked else "unchecked"))
        except DamagedFile as e:
            fix = "drawn again from the seeds" if rebuild else RETRAINED
            findings.append(
                Finding(path, "rebuildable" if rebuild else "damaged", f"{e.what}; {fix}")
            )
    return findings


def _other_files(rd: RunDir, findings: list[Finding]) -> None:
    for ck in sorted((rd.path / "checkpoints").glob("*.pt")):
        try:
            torch.load(ck, weights_only=True)
            findings.append(Finding(ck, "ok"))
        except Exception as e:  # any unreadable file
            findings.append(
                Finding(
                    ck, "damaged", f"{type(e).__name__}; its cohort trains again from the start"
                )
            )
    progress = rd.path / PROGRESS_FILE
    if progress.is_file() and rd.progress() is None:
        findings.append(Finding(progress, "damaged", "ignored; the next run rewrites it"))
    figures = rd.path / "figures"
    if (figures / FIGURES_INDEX).is_file() or any(figures.glob("*.png")):
        whole = rd.figures_done()
        findings.append(
            Finding(
                figures,
                "ok" if whole else "rebuildable",
                "" if whole else "redrawn from the records",
            )
        )
    report = rd.path / "report.html"
    if report.is_file() and not report.read_text(errors="replace").rstrip().endswith("</html>"):
        findings.append(Finding(report, "rebuildable", "rewritten from the records"))


def rebuild_database(rd: RunDir) -> int:
    """``metrics.sqlite`` rebuilt from the journal, the damaged one kept beside it as
    ``metrics.sqlite.damaged``; returns the records written."""
    rows, _ = journal.read(rd.path / JOURNAL)
    db_path = rd.path / "metrics.sqlite"
    tmp = rd.path / f".metrics.sqlite.{os.getpid()}.rebuild.tmp"
    tmp.unlink(missing_ok=True)
    db = connect(tmp)
    with db:
        journal.insert(db, list(rows.values()))
    db.close()
    rd.close()
    if db_path.exists():
        os.replace(db_path, rd.path / "metrics.sqlite.damaged")
    os.replace(tmp, db_path)
    return len(rows)
