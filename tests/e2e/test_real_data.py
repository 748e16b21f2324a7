"""The real datasets match their documented checks, and a real run records its
environment."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import TINY
from ticketlab.config import DataConfig
from ticketlab.data.datasets import Dataset, load_dataset


def test_real_mnist_matches_its_documented_checks(mnist: Dataset) -> None:
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (55_000, 5_000, 10_000)
    assert mnist.input_dim == 784 and mnist.train.x.dtype == torch.uint8
    assert mnist.test.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    all_y = torch.cat([mnist.train.y, mnist.val.y])
    assert torch.bincount(all_y).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert mnist.mean == pytest.approx(0.1307, abs=5e-4)
    assert mnist.std == pytest.approx(0.3081, abs=5e-4)
    x = mnist.normalise(mnist.train.x)
    assert x.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert x.std().item() == pytest.approx(1.0, abs=1e-3)


def test_real_cifar10_image_folder() -> None:
    ds = load_dataset(DataConfig(), name="cifar10", download=False)
    assert (len(ds.train) + len(ds.val), len(ds.test)) == (50_000, 10_000)
    assert np.bincount(ds.test.y.numpy()).tolist() == [1000] * 10
    assert 0.4 < ds.mean < 0.55 and ds.input_dim == 784


def test_a_run_records_that_denormals_were_flushed(tmp_path: Path) -> None:
    from ticketlab.cli import main

    out = tmp_path / "run"
    args = ["run", "--preset", "seed", *TINY, "--set", "prune.rounds=1", "--out", str(out)]
    assert main([*args, "--quiet"]) == 0
    env = json.loads((out / "run.json").read_text())["invocations"][0]["environment"]
    assert env["denormals"] == "flushed"
