"""kill -9 at many points over a run's whole life, and over report and export: every
resumed run ends with the records of an uninterrupted one, and no stray or half-written
file is left."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from safetensors.torch import load_file

import ticketlab
from tests.helpers import TINY
from ticketlab.cli import main

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["run", "--preset", "seed", *TINY, "--set", "prune.rounds=3", "--seeds", "0", "1"]
# (point, N): see tests/killer.py. N counts from each process's start. A checked text file
# is three writes (its digest into checksums.json, the file, checksums.json again); records
# are durable in the journal before their transaction. A process that
# resumes at round r writes run.json (texts 1-3), the round's control inits (tensors 1-2; at
# round 0 the ticket inits too: tensors 1-4), trains 20 steps, saves the next masks (two
# tensors) and records the round's 4 trainings (one batch), then moves to round r+1. At the
# end come the figures (4 files) and their index (text).
SCHEDULE = [
    ("text", 1),  # a new run's first digest, before its config.yaml
    ("text", 2),  # a new run's config.yaml
    ("text", 5),  # its first run.json
    ("text", 1),  # run.json of the next invocation
    ("tensor", 1),  # the ticket's init
    ("tensor", 4),  # the second seed's re-init
    ("step", 1),
    ("step", 10),
    ("step", 20),  # after the last step, before the masks
    ("tensor", 5),  # round 1's mask, seed 0
    ("tensor", 6),
    ("journal", 1),  # round 0's records, half of its journal lines written
    ("commit", 1),  # round 0's journal lines durable, the database not yet committed
    ("step", 5),  # round 0 inserted from the journal at the start; killed in round 1
    ("tensor", 1),  # round 1's re-init
    ("step", 20),
    ("record", 1),  # round 1's records, mid-transaction (already durable in the journal)
    ("step", 5),  # killed in round 2
    ("tensor", 4),  # round 3's mask, seed 1
    ("journal", 1),  # round 2's journal lines torn
    ("step", 21),  # round 2 recorded, killed at round 3's first step
    ("record", 1),  # round 3's records (inserted from the journal at the next start)
    ("figure", 1),  # a finished run whose figures are missing draws them
    ("figure", 3),
    ("text", 1),  # the figures' index, written last
]
VOLATILE = {"wall_time_s", "finished_at"}


def kill_at(point: str, n: int, argv: list[str]) -> int:
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "tests.killer", point, str(n), "--", *argv]
    return subprocess.run(cmd, env=env, capture_output=True, timeout=300).returncode


def stable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def check_files(run: Path) -> None:
    assert not list(run.rglob("*.tmp")), "a temporary file was left behind"
    for f in run.rglob("*.safetensors"):
        load_file(f)
    for f in run.rglob("*.png"):
        Image.open(f).verify()
    for f in [run / "run.json", *run.rglob("*.json")]:
        json.loads(f.read_text())
    for f in run.rglob("*.svg"):
        assert f.read_text().rstrip().endswith("</svg>")


@pytest.mark.slow
def test_kill_9_anywhere_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    straight = tmp_path / "straight"
    assert main([*ARGS, "--out", str(straight), "--quiet", "--threads", "1"]) == 0
    out = tmp_path / "killed"
    argv = [*ARGS, "--out", str(out), "--quiet", "--threads", "1"]
    kills = sum(kill_at(point, n, argv) == -9 for point, n in SCHEDULE)
    assert kills >= 20, f"only {kills} of the scheduled points were reached"
    assert main(argv) == 0
    want = stable(ticketlab.RunDir.open(straight).summaries())
    assert stable(ticketlab.RunDir.open(out).summaries()) == want
    check_files(out)
    assert ticketlab.RunDir.open(out).figures_done()
    assert not [f for f in ticketlab.verify(out) if f.bad]  # journal and database agree
    capsys.readouterr()
    assert main(["show", str(out)]) == 0
    assert "stopped without recording theirs (killed)" in capsys.readouterr().out

    # report and export killed mid-way: running them again gives complete files.
    for point, n, command in [
        ("figure", 2, ["report", str(out)]),
        ("text", 1, ["report", str(out)]),
        ("text", 2, ["export", str(out)]),
    ]:
        assert kill_at(point, n, command) == -9
        assert main(command) == 0
    assert (out / "report.html").read_text().rstrip().endswith("</html>")
    assert "## Verdicts: accuracy" in (out / "report.md").read_text()
    lines = (out / "export" / "trainings.csv").read_text().splitlines()
    assert len(lines) == len(want) + 1
    check_files(out)
