"""Run a sweep's trials as Ray tasks, and resume a sweep where it stopped.

Ray Core tasks, not Ray Tune: every trial is an ordinary ticketlab run directory that
already resumes at the training it was in, keeps its records and refuses a second writer.
A Ray task per trial adds what a run cannot do alone (placing trials on the cluster's CPUs
and GPUs, fractional GPUs, retrying a trial whose worker died) and nothing that would
duplicate the run directory's own bookkeeping (Tune's trial checkpoints and results).

The driver keeps ``SWEEP_DIR/sweep.json`` (the base config's identity and every trial ever
asked for) and ``SWEEP_DIR/state.json`` (the trials that failed, with their messages);
everything else is read from the trials' run directories. Running the same command again
skips finished trials and resumes the others.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ticketlab import api
from ticketlab.config import from_dict
from ticketlab.data.datasets import locate_dataset
from ticketlab.errors import RunLocked, TicketlabError, install_hint
from ticketlab.store.files import atomic_write_text
from ticketlab.store.rundir import RunDir
from ticketlab.sweeps.spec import Sweep, Trial
from ticketlab.tracking import Tracker

SWEEP_FILE = "sweep.json"
STATE_FILE = "state.json"
TRIALS = "trials"
LOCK_WAIT_S = 600.0  # how long a trial waits for a live earlier worker to let go of its run
RETRIES = 3  # Ray retries of a trial whose worker process died


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise TicketlabError(
            "ticketlab sweep runs its trials on Ray, which is not installed here: "
            f"{install_hint('ray')}, then run the same command"
        ) from None
    return ray


def read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.is_file() else default


def prepare(sweep: Sweep, root: Path) -> list[Trial]:
    """Create or reopen the sweep directory: refuse another base config, add the trials."""
    index = read_json(root / SWEEP_FILE, None)
    if index is not None and index["base_identity"] != sweep.base_identity():
        raise TicketlabError(
            f"{root} holds a sweep of another base config (base {index['base_identity']}, "
            f"this file's {sweep.base_identity()}); a sweep directory can only gain grid "
            "values and seeds. Use another --out for a different base."
        )
    trials = sweep.trials()
    index = index or {"base_identity": sweep.base_identity(), "base": sweep.base.to_dict()}
    known = index.setdefault("trials", {})
    for t in trials:
        known[t.dirname] = {"point": t.point, "seeds": t.config.seeds}
    index["grid"] = _merged_grid(index.get("grid", {}), sweep.grid)
    atomic_write_text(root / SWEEP_FILE, json.dumps(index, indent=1) + "\n")
    return trials


def _merged_grid(old: dict[str, list[Any]], new: dict[str, list[Any]]) -> dict[str, list[Any]]:
    out = {k: list(v) for k, v in old.items()}
    for k, values in new.items():
        out.setdefault(k, [])
        out[k] += [v for v in values if v not in out[k]]
    return out


def run_trial(
    config: dict[str, Any], out: str, data_dir: str | None, threads: int, download: bool = True
) -> dict[str, Any]:
    """One trial, in a Ray worker: the run at ``out``, at ``threads`` torch threads. An
    error retrying cannot fix (a bad config, missing data) comes back as the trial's
    failure; a worker that dies makes Ray retry the task, which resumes the run."""
    torch.set_num_threads(max(1, threads))
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            api.run(
                from_dict(config), out=out, data_dir=data_dir, download=download, progress=False
            )
            return {"ok": True}
        except RunLocked as e:  # a worker of an earlier driver: wait for it to finish or die
            if time.monotonic() > deadline:
                return {"error": f"{e}; it did not let go within {LOCK_WAIT_S:.0f} s"}
            time.sleep(2)
        except TicketlabError as e:
            return {"error": str(e)}


def finished(path: Path, trial: Trial) -> bool:
    """Whether the trial's run directory holds all its seeds' trainings."""
    if not (path / "config.yaml").is_file():
        return False
    rd = RunDir.open(path)
    return set(trial.config.seeds) <= set(rd.config.seeds) and (rd.status()["status"] == "complete")


def check_shared(ray: Any, root: Path) -> None:
    """With more than one node, every node must see the sweep directory (a shared
    filesystem): a token written here is looked for from a task on each node."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if len(nodes) < 2:
        return
    token = uuid.uuid4().hex
    probe = root / f".probe-{token}"
    probe.write_text(token)
    try:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        @ray.remote(num_cpus=0)
        def sees(path: str) -> tuple[str, bool]:
            p = Path(path)
            return socket.gethostname(), p.is_file() and p.read_text() == token

        refs = [
            sees.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(str(probe))
            for n in nodes
        ]
        blind = [host for host, ok in ray.get(refs) if not ok]
    finally:
        probe.unlink(missing_ok=True)
    if blind:
        raise TicketlabError(
            f"the sweep directory {root} is not visible from node(s) {', '.join(blind)}; on "
            "a multi-node cluster put it on a filesystem every node mounts at the same path"
        )


def run_sweep(
    sweep_file: str | Path,
    out: str | Path,
    address: str | None = None,
    data_dir: str | Path | None = None,
    say: Callable[[str], None] = print,
    tracker: Tracker | None = None,
    download: bool = True,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run every unfinished trial of the sweep in ``sweep_file`` into ``out``; returns the
    counts and the failed trials' messages. The datasets are found (or downloaded) here
    before Ray starts, so missing data is one message, not one failure per trial.
    ``threads``: each trial's torch threads (default: its ``cpus``). ``tracker`` logs each
    trial's trainings from this process (the driver) once the trial has finished, never
    from the workers."""
    sweep = Sweep.load(sweep_file)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    trials = prepare(sweep, root)
    state = read_json(root / STATE_FILE, {"failed": {}})
    todo = [t for t in trials if not finished(root / TRIALS / t.dirname, t)]
    if tracker is not None:  # trials finished before (a driver killed before logging them)
        for t in trials:
            if t not in todo:
                tracker.log(RunDir.open(root / TRIALS / t.dirname))
    say(
        f"sweep {root}: {len(trials)} trials, {len(trials) - len(todo)} finished, "
        f"{len(todo)} to run"
    )
    if not todo:
        return {"trials": len(trials), "ran": 0, "failed": {}}
    for name in sorted({n for t in todo for n in t.config.datasets()}):
        locate_dataset(name, data_dir, download)
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        check_shared(ray, root)
        task = ray.remote(run_trial).options(
            num_cpus=sweep.cpus, num_gpus=sweep.gpus, max_retries=RETRIES, retry_exceptions=False
        )
        threads = threads or max(1, int(sweep.cpus))
        data = None if data_dir is None else str(Path(data_dir).resolve())
        pending = {}
        for t in todo:
            path = str((root / TRIALS / t.dirname).resolve())
            pending[task.remote(t.config.to_dict(), path, data, threads, download)] = t
        failed: dict[str, str] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            t = pending.pop(done[0])
            try:
                result = ray.get(done[0])
            except Exception as e:  # Ray gave up on the task (its retries spent)
                result = {"error": f"{type(e).__name__}: {e}"}
            if "error" in result:
                failed[t.dirname] = result["error"]
                state["failed"][t.dirname] = result["error"]
                say(f"  failed   {t.dirname} ({t.label}): {result['error']}")
            else:
                state["failed"].pop(t.dirname, None)
                say(f"  complete {t.dirname} ({t.label})")
                if tracker is not None:
                    tracker.log(RunDir.open(root / TRIALS / t.dirname))
            atomic_write_text(root / STATE_FILE, json.dumps(state, indent=1) + "\n")
    finally:
        if started:
            ray.shutdown()
    return {"trials": len(trials), "ran": len(todo), "failed": failed}


def default_sweep_dir(sweep_file: str | Path, runs_root: Path) -> Path:
    sweep = Sweep.load(sweep_file)
    return runs_root / "sweeps" / f"{Path(sweep_file).stem}-{sweep.base_identity()}"
