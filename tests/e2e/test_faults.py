"""Faults end in one clear message and a clean resume: disk full, SIGTERM, a closed pipe;
files get the mode a plain write would."""

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors import SafetensorError

import ticketlab
from tests.helpers import TINY, numbers, records
from ticketlab.cli import main

ARGS = ["run", "--preset", "seed", *TINY, "--seeds", "0", "--quiet"]


@pytest.mark.slow
def test_disk_full_is_one_message_and_the_same_command_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main([*ARGS, "--out", str(tmp_path / "straight")]) == 0
    out = tmp_path / "full"
    import ticketlab.store.integrity as integrity
    import ticketlab.store.rundir as store

    real = integrity.save_file
    calls = [0]

    def save_file_until_full(data: object, path: str, metadata: object = None) -> None:
        calls[0] += 1
        if calls[0] == 3:  # round 1's mask, made when round 0 finishes
            raise SafetensorError("No space left on device (os error 28)")
        real(data, path, metadata=metadata)

    monkeypatch.setattr(integrity, "save_file", save_file_until_full)
    capsys.readouterr()
    assert main([*ARGS, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "ticketlab: error: could not write" in err and "No space left on device" in err
    assert str(out / "masks") in err and "run the same command again to resume" in err
    assert "Traceback" not in err
    monkeypatch.setattr(integrity, "save_file", real)

    def full_db(self: object, records: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store.RunDir, "_record", full_db)
    assert main([*ARGS, "--out", str(out)]) == 2
    assert f"could not write {out / 'metrics.sqlite'}: database or disk is full" in (
        capsys.readouterr().err
    )
    monkeypatch.undo()
    assert main([*ARGS, "--out", str(out)]) == 0
    assert numbers(records(out, capsys)) == numbers(records(tmp_path / "straight", capsys))
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_sigterm_is_recorded_like_ctrl_c_and_the_run_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*ARGS, "--set", "prune.rounds=4", "--set", "train.epochs=6"]
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketlab.cli", *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (out / "metrics.sqlite").exists() and ticketlab.RunDir.open(out).completed():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert "stopped by SIGTERM; run the same command again to resume" in err
    assert "Traceback" not in err
    meta = json.loads((out / "run.json").read_text())
    assert meta["invocations"][0]["outcome"] == "stopped: Terminated"
    assert meta["invocations"][0]["wall_time_s"] > 0
    capsys.readouterr()
    assert main([*args, "--out", str(out)]) == 0
    assert "resuming at round" in capsys.readouterr().err
    assert ticketlab.RunDir.open(out).status()["status"] == "complete"


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main([*ARGS, "--out", str(out)]) == 0
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write fails
    proc = subprocess.run(
        [sys.executable, "-m", "ticketlab.cli", "show", str(out), "--json"],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(write)
    assert proc.returncode == 141 and proc.stderr == ""


@pytest.mark.slow
def test_run_files_respect_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = tmp_path / "run"
        assert main([*ARGS, "--out", str(out), "--threads", "1"]) == 0
        assert main(["report", str(out)]) == 0
        assert main(["export", str(out)]) == 0
    finally:
        os.umask(old)
    for name in (
        "config.yaml",
        "run.json",
        "report.html",
        "report.md",
        "export/trainings.csv",
        "masks/seed0/round01.safetensors",
        "metrics.sqlite",
    ):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name
    env = json.loads((out / "run.json").read_text())["invocations"][0]["environment"]
    assert env["cpu_threads"] == 1


@pytest.mark.slow
def test_a_batch_larger_than_the_training_split_is_announced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*ARGS, "--set", "train.batch_size=5000", "--set", "prune.rounds=1"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "ticketlab: warning: batch size 5000" in err
    assert "larger than mnist's training split of 1000 examples" in err
    assert all(r["steps"] == 2 for r in ticketlab.RunDir.open(tmp_path / "run").summaries())


@pytest.mark.slow
def test_a_schedule_that_starves_a_layer_is_announced_and_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*ARGS, "--set", "prune.p_final=0.005", "--set", "prune.rounds=2"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr()
    assert "warning: from round 2 on, fc3.weight keeps 5 weights for its 10 units" in out.err
    assert "whole classes" in out.err and "prune.output_rate" in out.err
    rows = ticketlab.RunDir.open(tmp_path / "run").summaries()
    last = [r for r in rows if r["round"] == 2 and r["kind"] == "ticket"]
    assert last[0]["units_without_inputs"]["fc3.weight"] >= 5  # 5 weights, 10 classes
    assert "fc3.weight " in out.out.splitlines()[-1]  # show's column marks the round
