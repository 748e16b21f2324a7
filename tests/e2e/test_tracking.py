"""Logging to MLflow (a real local SQLite store): every training once, its evaluations as
steps, its run's figures as artifacts, from a run and from a sweep's driver."""

from pathlib import Path

import pytest
import yaml

import ticketlab
from tests.helpers import TINY
from ticketlab.cli import main

mlflow = pytest.importorskip("mlflow")


def logged(uri: str) -> tuple[list, list]:
    """(parent runs, training runs) in the store."""
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("ticketlab")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    children = [r for r in runs if "ticketlab.training" in r.data.tags]
    parents = [r for r in runs if "ticketlab.run_dir" in r.data.tags]
    return parents, children


@pytest.mark.slow
def test_a_run_logs_every_training_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    out = tmp_path / "run"
    args = ["run", "--preset", "seed", *TINY, "--out", str(out), "--quiet"]
    assert main([*args, "--log", "mlflow", "--log-uri", uri]) == 0
    n = len(ticketlab.RunDir.open(out).summaries())
    parents, children = logged(uri)
    assert len(parents) == 1 and len(children) == n == 6
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    run = children[0]
    history = client.get_metric_history(run.info.run_id, "val_acc")
    assert [m.step for m in history] == [0, 5, 10, 15, 20]  # every evaluation, as steps
    assert run.data.params["dataset"] == "mnist" and "es_test_acc" in run.data.metrics
    assert parents[0].data.params["train.lr"] == "0.0012"
    artifacts = [a.path for a in client.list_artifacts(parents[0].info.run_id, "figures")]
    assert "figures/figure1.png" in artifacts

    # Run again (finished) and with one more seed: only the new trainings are logged.
    assert main([*args, "--log", "mlflow", "--log-uri", uri]) == 0
    assert main([*args, "--seeds", "0", "1", "--log", "mlflow", "--log-uri", uri]) == 0
    _, children = logged(uri)
    ids = [r.data.tags["ticketlab.training"] for r in children]
    assert len(ids) == len(set(ids)) == len(ticketlab.RunDir.open(out).summaries()) == 12


@pytest.mark.slow
def test_a_sweep_logs_from_its_driver(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    spec = {
        "preset": "seed",
        "set": {a.split("=")[0]: yaml.safe_load(a.split("=", 1)[1]) for a in TINY[1::2]},
        "grid": {"train.lr": [0.0012, 0.003]},
        "seeds": [0],
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "sweep"
    assert main(["sweep", "run", str(path), "--out", str(out), "--log", "mlflow"]) == 0
    parents, children = logged(f"sqlite:///{out}/mlflow.db")
    assert len(parents) == 2 and len(children) == 12


def test_without_mlflow_the_log_option_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    real = builtins.__import__

    def no_mlflow(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("mlflow"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    args = ["run", "--preset", "seed", *TINY, "--out", str(tmp_path / "r"), "--log", "mlflow"]
    assert main(args) == 2
    assert "pip install -c constraints.txt -e '.[mlflow]'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_logs_to_tensorboard_once(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, logdir = tmp_path / "run", tmp_path / "tb"
    args = ["run", "--preset", "seed", *TINY, "--out", str(out), "--quiet"]
    args += ["--log", "tensorboard", "--log-uri", str(logdir)]
    assert main(args) == 0
    trainings = sorted(p for p in (logdir / "run").iterdir() if p.name != "figures")
    assert len(trainings) == len(ticketlab.RunDir.open(out).summaries()) == 6
    events = EventAccumulator(str(trainings[0]))
    events.Reload()
    assert [s.step for s in events.Scalars("val_acc")] == [0, 5, 10, 15, 20]
    figures = EventAccumulator(str(logdir / "run" / "figures"))
    figures.Reload()
    assert "figure1" in figures.Tags()["images"]
    before = {p: sorted(q.name for q in p.iterdir()) for p in trainings}
    assert main(args) == 0  # finished: nothing is written twice
    assert {p: sorted(q.name for q in p.iterdir()) for p in trainings} == before
    assert not list((logdir / "run").glob(".*.tmp"))
