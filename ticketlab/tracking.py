"""Log finished trainings where researchers already compare trials: MLflow or TensorBoard.

Each run directory is an MLflow run (its resolved config as parameters, its figures as
artifacts); each of its trainings a nested run named by its training id, with the
training's keys as parameters, its evaluation points as metric steps and its headline
numbers as metrics. Logging happens in one process (the run's, or a sweep's driver),
after the trainings are recorded. What is already in the tracking store is looked up first
(by the ``ticketlab.training`` tag), so a resumed run or sweep never logs a training twice.
MLflow is an optional extra (``errors.install_hint``).

TensorBoard: one event directory per training under ``LOGDIR/<run directory>/<training
id, slashes and spaces as _>/`` (its evaluations as scalar steps, its keys as text), the
run's figures as images under ``LOGDIR/<run directory>/figures``. A training's events are
written to a temporary directory and renamed into place once complete, so one that is
there is never written again. TensorBoard is an optional extra too.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from ticketlab.errors import TicketlabError, install_hint
from ticketlab.experiments.records import EVAL_METRICS, METRICS, PARAMS
from ticketlab.store.rundir import RunDir

TRACKERS = ("mlflow", "tensorboard")


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


class MLflowTracker:
    """Logs to the MLflow tracking store at ``uri`` (default: a SQLite file,
    ``sqlite:///ROOT/mlflow.db``), experiment ``experiment``."""

    def __init__(self, uri: str, experiment: str = "ticketlab") -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise TicketlabError(
                "--log mlflow needs MLflow, which is not installed here: "
                f"{install_hint('mlflow')}, then run the same command"
            ) from None
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self.experiment = found.experiment_id
        else:  # artifacts beside a local store, not in ./mlruns of wherever we happen to be
            local = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None
            where = Path(local).parent / "mlartifacts" if local else None
            self.experiment = self.client.create_experiment(
                experiment, artifact_location=where.resolve().as_uri() if where else None
            )

    def _runs(self, filter_string: str) -> list[Any]:
        runs, token = [], None
        while True:
            page = self.client.search_runs(
                [self.experiment], filter_string, max_results=1000, page_token=token
            )
            runs += list(page)
            token = page.token
            if not token:
                return runs

    def _parent(self, rd: RunDir) -> str:
        """The MLflow run of a run directory (made once, found again by its path tag)."""
        where = str(rd.path.resolve())
        found = self._runs(f"tags.`ticketlab.run_dir` = '{where}'")
        if found:
            return found[0].info.run_id
        run = self.client.create_run(
            self.experiment, run_name=rd.path.name, tags={"ticketlab.run_dir": where}
        )
        params = {k: str(v)[:500] for k, v in flatten(rd.config.to_dict()).items()}
        self.client.log_batch(run.info.run_id, params=_params(params))
        return run.info.run_id

    def log(self, rd: RunDir) -> int:
        """Log the trainings of ``rd`` not in the store yet, then its figures; returns how
        many trainings were logged."""
        from mlflow.entities import Metric

        parent = self._parent(rd)
        done = {
            r.data.tags.get("ticketlab.training")
            for r in self._runs(f"tags.mlflow.parentRunId = '{parent}'")
        }
        logged = 0
        for tid, rec in rd.trainings_by_id().items():
            if tid in done:
                continue
            run = self.client.create_run(
                self.experiment,
                run_name=tid,
                tags={"ticketlab.training": tid, "mlflow.parentRunId": parent},
            )
            stamp = 0
            metrics = [
                Metric(k, float(rec[k]), stamp, 0) for k in METRICS if rec.get(k) is not None
            ]
            for e in rec["evals"]:
                metrics += [
                    Metric(k, float(e[k]), stamp, int(e["step"]))
                    for k in EVAL_METRICS
                    if e.get(k) is not None
                ]
            params = {k: str(rec[k]) for k in PARAMS}
            for i in range(0, len(metrics), 1000):
                self.client.log_batch(
                    run.info.run_id,
                    metrics=metrics[i : i + 1000],
                    params=_params(params) if i == 0 else [],
                )
            self.client.set_terminated(run.info.run_id)
            logged += 1
        figures = rd.path / "figures"
        if figures.is_dir():
            for png in sorted(figures.glob("*.png")):
                self.client.log_artifact(parent, str(png), "figures")
        return logged


class TensorBoardTracker:
    """Logs to TensorBoard event files under ``logdir``."""

    def __init__(self, logdir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise TicketlabError(
                "--log tensorboard needs TensorBoard, which is not installed here: "
                f"{install_hint('tensorboard')}, then run the same command"
            ) from None
        self.writer_class = SummaryWriter
        self.uri = str(logdir)
        self.logdir = logdir

    def log(self, rd: RunDir) -> int:
        base = self.logdir / rd.path.name
        logged = 0
        for tid, rec in rd.trainings_by_id().items():
            name = re.sub(r"[^\w.=-]+", "_", tid)  # ids hold slashes and spaces
            final = base / name
            if final.is_dir():
                continue
            tmp = base / f".{name}.{os.getpid()}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            writer = self.writer_class(str(tmp))
            for e in rec["evals"]:
                for k in EVAL_METRICS:
                    if e.get(k) is not None:
                        writer.add_scalar(k, float(e[k]), int(e["step"]))
            writer.add_text("training", ", ".join(f"{k}={rec[k]}" for k in PARAMS))
            writer.close()
            tmp.rename(final)
            logged += 1
        figures = rd.path / "figures"
        if figures.is_dir() and any(figures.glob("*.png")):
            import numpy as np
            from PIL import Image

            writer = self.writer_class(str(base / "figures"))
            for png in sorted(figures.glob("*.png")):
                img = np.asarray(Image.open(png).convert("RGB"))
                writer.add_image(png.stem, img, dataformats="HWC")
            writer.close()
        return logged


def _params(d: dict[str, str]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, v) for k, v in d.items()]


Tracker = MLflowTracker | TensorBoardTracker


def make_tracker(kind: str | None, uri: str | None, root: Path) -> Tracker | None:
    """The tracker ``--log`` asks for (None: no logging). MLflow's store defaults to
    ``sqlite:///ROOT/mlflow.db``, TensorBoard's log directory to ``ROOT/tensorboard``."""
    if kind is None:
        return None
    if kind not in TRACKERS:
        raise TicketlabError(f"--log must be one of {', '.join(TRACKERS)}, got {kind!r}")
    root.mkdir(parents=True, exist_ok=True)
    if kind == "tensorboard":
        return TensorBoardTracker(Path(uri) if uri else root / "tensorboard")
    return MLflowTracker(uri or f"sqlite:///{root.resolve()}/mlflow.db")
