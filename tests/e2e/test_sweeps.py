"""Sweeps on a real local Ray cluster: a grid of tiny MNIST runs, the same numbers as runs
made one by one, failures that do not stop the others, extension, refusal, the report."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import ticketlab
from ticketlab.cli import main

pytest.importorskip("ray")

BASE = {
    "data.train_subset": 1000,
    "data.val_size": 500,
    "data.test_subset": 1000,
    "prune.rounds": 2,
    "prune.p_final": 0.25,
    "train.epochs": 2,
    "train.batch_size": 100,
    "train.eval_every": 5,
    "transfer.datasets": [],
}
GRID = {"train.lr": [0.0012, 0.003], "prune.method": ["layerwise", "global"]}


def sweep_file(tmp_path: Path, name: str, **changes: object) -> Path:
    spec = {"preset": "seed", "set": dict(BASE), "grid": dict(GRID), "seeds": [0, 1]}
    spec.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def stable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in {"wall_time_s", "finished_at"}} for r in rows]


def invocations(trial: Path) -> int:
    return len(json.loads((trial / "run.json").read_text())["invocations"])


@pytest.mark.slow
def test_a_sweep_runs_extends_refuses_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "run", str(sweep_file(tmp_path, "grid")), "--out", str(out)]) == 0
    trials = sorted((out / "trials").iterdir())
    assert len(trials) == 4
    for t in trials:
        assert ticketlab.RunDir.open(t).status()["status"] == "complete"

    # The same numbers as the same runs made one by one at the same thread count (1).
    for t in trials[:1]:
        cfg = ticketlab.RunDir.open(t).config
        (tmp_path / "c.yaml").write_text(cfg.to_yaml())
        alone = tmp_path / f"alone-{t.name}"
        args = ["run", str(tmp_path / "c.yaml"), "--out", str(alone), "--quiet", "--threads", "1"]
        assert main(args) == 0
        assert stable(ticketlab.RunDir.open(t).summaries()) == stable(
            ticketlab.RunDir.open(alone).summaries()
        )

    # Extended by a grid dimension whose new value fails in every trial (a model that cannot
    # be imported): only the new trials run, they fail with their message, the exit is 1.
    failing = dict(GRID) | {"model.name": ["lenet_300_100", "nosuch.module:net"]}
    capsys.readouterr()
    wider = sweep_file(tmp_path, "wider", grid=failing)
    assert main(["sweep", "run", str(wider), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "8 trials, 4 finished, 4 to run" in err and "4 of 8 trials failed" in err
    assert all(invocations(t) == 1 for t in trials)  # the finished ones were not touched
    assert main(["sweep", "status", str(out)]) == 0
    status = capsys.readouterr().out
    assert status.count(" complete ") == 4 and status.count(" failed ") == 4
    assert "nosuch.module" in status

    # Another base config into the same sweep directory is refused.
    other = sweep_file(tmp_path, "other", set=BASE | {"train.epochs": 1})
    assert main(["sweep", "run", str(other), "--out", str(out)]) == 2
    assert "holds a sweep of another base config" in capsys.readouterr().err

    assert main(["sweep", "report", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "| prune.method=global, train.lr=0.003, model.name=lenet_300_100 | MNIST |" in md
    assert "no verdict with 2 seeds (needs 3)" in md  # the same rule as for a run
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figures == [
        "sweep-model-name.png",
        "sweep-prune-method.png",
        "sweep-train-lr.png",
    ]
    lines = (out / "trainings.csv").read_text().splitlines()
    total = sum(len(ticketlab.RunDir.open(t).summaries()) for t in trials)
    assert len(lines) == total + 1 and "grid.train.lr" in lines[0]


def test_a_sweep_file_with_bad_keys_is_refused(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: seed\ngrid: {train.lr: 0.1}\n")
    assert main(["sweep", "run", str(bad), "--out", str(tmp_path / "s")]) == 2
    assert "grid must map each key to a non-empty list" in capsys.readouterr().err
    bad.write_text("preset: seed\ngrid: {train.lr: [0.1, -1]}\n")
    assert main(["sweep", "run", str(bad), "--out", str(tmp_path / "s")]) == 2
    assert "grid point {'train.lr': -1}: train.lr must be > 0" in capsys.readouterr().err


def test_without_ray_the_sweep_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    real = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    path = sweep_file(tmp_path, "grid")
    assert main(["sweep", "run", str(path), "--out", str(tmp_path / "s")]) == 2
    assert "pip install -c constraints.txt -e '.[ray]'" in capsys.readouterr().err


def lock_holder(run: Path) -> int | None:
    """The pid written into a run's lock file while a process trains it."""
    try:
        text = (run / ".lock").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@pytest.mark.slow
def test_a_killed_worker_and_a_killed_driver_lose_nothing(tmp_path: Path) -> None:
    grid = {"train.lr": [0.0012, 0.003]}
    path = sweep_file(tmp_path, "two", grid=grid, set=BASE | {"prune.rounds": 3})
    straight = tmp_path / "straight"
    assert main(["sweep", "run", str(path), "--out", str(straight)]) == 0
    want = {
        t.name: stable(ticketlab.RunDir.open(t).summaries())
        for t in (straight / "trials").iterdir()
    }

    # A worker killed mid-trial (after its first recorded round): Ray retries the task,
    # which resumes inside the run directory. Then the driver itself is killed once the
    # first trial is complete, and the same command is run again.
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ticketlab.cli", "sweep", "run", str(path), "--out", str(out)]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    killed_worker = None
    deadline = time.time() + 600
    while time.time() < deadline and driver.poll() is None:
        runs = sorted((out / "trials").glob("*")) if (out / "trials").is_dir() else []
        done = [
            r
            for r in runs
            if (r / "config.yaml").is_file()
            and ticketlab.RunDir.open(r).status()["status"] == "complete"
        ]
        if killed_worker is None:
            for r in runs:
                pid = lock_holder(r)
                if (
                    pid
                    and (r / "metrics.sqlite").is_file()
                    and ticketlab.RunDir.open(r).completed()
                ):
                    os.kill(pid, signal.SIGKILL)
                    killed_worker = r.name
                    break
        elif done:
            driver.send_signal(signal.SIGKILL)
            break
        time.sleep(0.2)
    driver.wait(timeout=60)
    assert killed_worker is not None, "no trial was caught mid-way"
    try:
        assert main(["sweep", "run", str(path), "--out", str(out)]) == 0
    finally:  # the killed driver's local Ray processes outlive it: stop them
        subprocess.run([str(Path(sys.executable).parent / "ray"), "stop", "--force"], check=False)
    got = {t.name: stable(ticketlab.RunDir.open(t).summaries()) for t in (out / "trials").iterdir()}
    assert got == want
    meta = json.loads((out / "trials" / killed_worker / "run.json").read_text())
    assert len(meta["invocations"]) >= 2  # the retried task resumed the run
