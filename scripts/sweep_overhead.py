"""Ray's overhead per trial: a sweep of tiny MNIST trials run on a local Ray (one trial at a
time, each with all of this machine's cores) against the same runs made one after another
in one process at the same thread count. Prints both wall times and the difference per
trial (Ray's start-up, scheduling, worker start and imports).

    .venv/bin/python scripts/sweep_overhead.py [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from ticketlab import api
from ticketlab.sweeps import run_sweep
from ticketlab.sweeps.spec import Sweep

CORES = os.cpu_count() or 1
SPEC = {
    "preset": "seed",
    "set": {
        "data.train_subset": 1000,
        "data.val_size": 500,
        "data.test_subset": 1000,
        "prune.rounds": 2,
        "prune.p_final": 0.25,
        "train.epochs": 2,
        "train.batch_size": 100,
        "train.eval_every": 5,
        "transfer.datasets": [],
    },
    "grid": {"train.lr": [0.0012, 0.003], "prune.method": ["layerwise", "global"]},
    "seeds": [0, 1],
    "resources": {"cpus": CORES, "gpus": 0},
}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "overhead.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    trials = Sweep.load(path).trials()
    t0 = time.perf_counter()
    run_sweep(path, out / "ray", say=lambda _: None)
    ray_s = time.perf_counter() - t0
    torch.set_num_threads(CORES)
    t0 = time.perf_counter()
    for t in trials:
        api.run(t.config, out=out / "plain" / t.dirname, progress=False)
    plain_s = time.perf_counter() - t0
    n = len(trials)
    print(f"{n} trials, {CORES} threads each, one at a time")
    print(f"on Ray:          {ray_s:7.1f} s")
    print(f"in one process:  {plain_s:7.1f} s")
    print(f"Ray's overhead:  {(ray_s - plain_s) / n:7.1f} s per trial")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
