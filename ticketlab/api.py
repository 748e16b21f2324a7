"""The Python API: everything the CLI does, callable from a notebook.

import ticketlab
cfg = ticketlab.load_config(preset_name="quick", seeds=[0, 1])
run = ticketlab.run(cfg, out="runs/my-run", data_dir="../shared/data")
rows = run.summaries()          # one dict per finished training
ticketlab.plot(run.path)
"""

from __future__ import annotations

import datetime as dt
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .bench import run_bench
from .config import Config, DataConfig
from .data import Dataset, load_dataset
from .errors import TicketlabError
from .experiment import Experiment, RoundProgress
from .figures import figure1, figure2
from .report import write_report
from .store import RunDir, environment

RUNS_ROOT = Path("runs")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TicketlabError("device 'cuda' was asked for but CUDA is not available here")
    return torch.device(name)


def load_datasets(
    cfg: Config, data_dir: str | Path | None = None, download: bool = True
) -> dict[str, Dataset]:
    """The main dataset and every transfer dataset, each split and standardised by
    ``cfg.data`` (CPU tensors)."""
    return {
        name: load_dataset(cfg.data, data_dir, download, name=name, maxgroup_cfg=cfg.maxgroup)
        for name in cfg.datasets()
    }


def default_run_dir(cfg: Config, root: Path = RUNS_ROOT) -> Path:
    return root / f"{cfg.name}-{cfg.identity_hash()}"


def run(
    cfg: Config,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    download: bool = True,
    on_progress: Callable[[RoundProgress], None] | None = None,
    make_figures: bool = True,
) -> RunDir:
    """Run (or resume) the experiment of ``cfg`` into ``out``; returns the run directory.
    A finished run is left as it is. A run directory whose config differs from ``cfg`` only
    by having fewer seeds gets ``cfg``'s other seeds added, and trains only those."""
    run_dir = RunDir.create(out if out is not None else default_run_dir(cfg), cfg)
    with run_dir.lock():
        run_dir.save_seeds()
        cfg = run_dir.config
        if run_dir.status()["status"] == "complete":
            if make_figures and not (run_dir.path / "figures" / "figure1.png").exists():
                plot(run_dir.path)
            return run_dir
        device = resolve_device(cfg.device)
        meta = run_dir.meta()
        entry: dict[str, Any] = {
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "environment": environment(device),
            "resumed_from": run_dir.status(),
        }
        meta["invocations"].append(entry)
        run_dir.write_meta(meta)
        entry["rss_before_data_mb"] = _peak_rss_mb()
        t0 = time.perf_counter()
        datasets = load_datasets(cfg, data_dir, download)
        entry["data_load_s"] = round(time.perf_counter() - t0, 3)
        entry["datasets"] = {
            name: {
                "train": len(d.train),
                "val": len(d.val),
                "test": len(d.test),
                "mean": d.mean,
                "std": d.std,
                "classes": d.num_classes,
            }
            for name, d in datasets.items()
        }
        entry["dataset_mb"] = round(sum(d.nbytes for d in datasets.values()) / 2**20)
        datasets = {name: d.to(device) for name, d in datasets.items()}
        try:
            Experiment(cfg, datasets, run_dir, device, on_progress).run()
            entry["outcome"] = "complete"
        except BaseException as e:
            entry["outcome"] = f"stopped: {type(e).__name__}"
            raise
        finally:
            entry["wall_time_s"] = round(time.perf_counter() - t0, 3)
            entry["peak_rss_mb"] = _peak_rss_mb()
            if device.type == "cuda":
                entry["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
            entry["ended_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            run_dir.write_meta(meta)
        if make_figures:
            plot(run_dir.path)
        return run_dir


def resume(
    run_path: str | Path,
    data_dir: str | Path | None = None,
    download: bool = True,
    on_progress: Callable[[RoundProgress], None] | None = None,
) -> RunDir:
    """Resume the run in ``run_path`` with the config it was made with."""
    cfg = RunDir.open(run_path).config
    return run(cfg, run_path, data_dir, download, on_progress)


def _peak_rss_mb() -> int:
    """The process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def plot(run_path: str | Path) -> list[Path]:
    """(Re)draw the run's figures into ``RUN_DIR/figures``."""
    rd = RunDir.open(run_path)
    rows = rd.summaries()
    if not rows:
        raise TicketlabError(f"{rd.path} has no finished trainings to plot yet")
    main, out = rd.config.data.dataset, rd.path / "figures"
    return figure1(rows, main, out) + figure2(rows, main, out)


def report(run_path: str | Path) -> list[Path]:
    """Redraw the figures and write ``report.html`` and ``report.md`` into the run."""
    figures = plot(run_path)
    return write_report(RunDir.open(run_path), figures)


def export(run_path: str | Path, dest: str | Path | None = None) -> list[Path]:
    """Write the run's metrics as CSV and JSON into ``dest`` (default ``RUN_DIR/export``)."""
    rd = RunDir.open(run_path)
    return rd.export(Path(dest) if dest is not None else rd.path / "export")


CROSSOVER_DENSITIES = [0.5, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02, 0.01]


def bench(
    cohorts: list[int],
    densities: list[float],
    steps: int = 100,
    device: str = "auto",
    data_dir: str | Path | None = None,
    baseline: bool = True,
    crossover: bool = False,
    compiled: bool = False,
) -> dict[str, Any]:
    """Measure training throughput on MNIST (see ``bench.py``); 100% density is always
    included as the reference. ``crossover`` adds the dense/sparse crossover table,
    ``compiled`` dense rows with the training step through ``torch.compile``."""
    for d in densities:
        if not 0 < d <= 1:
            raise TicketlabError(f"densities must be in (0, 1], got {d}")
    if any(c < 1 for c in cohorts) or steps < 1:
        raise TicketlabError("cohort sizes and --steps must be at least 1")
    dev = resolve_device(device)
    data = load_dataset(DataConfig(), data_dir).to(dev)
    dens = sorted({1.0, *densities}, reverse=True)
    cross = CROSSOVER_DENSITIES if crossover else None
    return run_bench(data, dev, cohorts, dens, steps, baseline, cross, compiled)


def list_runs(root: str | Path = RUNS_ROOT) -> list[dict[str, Any]]:
    """Every run directory directly under ``root`` with its status and headline number."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if not (p / "config.yaml").is_file():
            continue
        rd = RunDir.open(p)
        out.append({"path": str(p), "name": rd.config.name, **rd.status(), **headline(rd)})
        rd.close()
    return out


def headline(rd: RunDir) -> dict[str, Any]:
    """Dense accuracy and the sparsest ticket's accuracy (means over seeds)."""
    tickets = [
        r
        for r in rd.summaries()
        if r["kind"] == "ticket" and r["dataset"] == rd.config.data.dataset
    ]
    if not tickets:
        return {}

    def mean_at(rnd: int) -> float:
        vals = [r["es_test_acc"] for r in tickets if r["round"] == rnd]
        return sum(vals) / len(vals)

    last = max(r["round"] for r in tickets)
    return {
        "dense_test_acc": mean_at(0),
        "sparsest_round": last,
        "sparsest_weights_remaining": next(
            r["weights_remaining"] for r in tickets if r["round"] == last
        ),
        "sparsest_ticket_test_acc": mean_at(last),
    }
