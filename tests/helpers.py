"""Helpers shared by the test layers: a tiny run's overrides and record readers."""

import json
from pathlib import Path

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
