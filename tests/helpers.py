"""Helpers shared by the test layers: a tiny run's overrides and record readers."""

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from ticketlab.cli import main
from ticketlab.pruning.sources import Context

# Overrides that shrink any MLP preset to a run of seconds on real MNIST.
TINY = [
    "--set",
    "data.train_subset=1000",
    "--set",
    "data.val_size=500",
    "--set",
    "data.test_subset=1000",
    "--set",
    "prune.rounds=2",
    "--set",
    "prune.p_final=0.25",
    "--set",
    "train.epochs=2",
    "--set",
    "train.batch_size=100",
    "--set",
    "train.eval_every=5",
    "--set",
    "transfer.datasets=[]",
]


def records(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert main(["show", str(run_dir), "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def numbers(rows: list[dict]) -> list[tuple]:
    keep = (
        "round",
        "seed",
        "kind",
        "control",
        "weights_remaining",
        "final_test_acc",
        "es_step",
        "es_test_acc",
        "es_val_loss",
        "init_seed",
    )
    return [tuple(r[k] for k in keep) for r in rows]


class NegativeFirst:
    """A user's own mask source (named by import path in a test): keeps the most negative
    initial weights first, using no data, in one shot."""

    uses_data = False
    iterations = 1

    def scores(self, ctx: Context, mask: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: -ctx.params[k] for k in mask}


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (scripts are not a package), registered under its
    name so that its dataclasses resolve."""
    path = Path(__file__).parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
