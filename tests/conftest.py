"""Shared fixtures. Tests read real data from ``$TICKETLAB_DATA`` (default: the
``shared/data`` folder beside the checkout) and never download or write there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ticketlab.config import DataConfig
from ticketlab.data.datasets import Dataset, load_dataset

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TICKETLAB_DATA", str(ROOT.parent / "shared" / "data"))
DATA_DIR = Path(os.environ["TICKETLAB_DATA"])


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _private_cache(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the user's cache (one cache for the session, so the real
    CIFAR-10 images are decoded once)."""
    monkeypatch.setenv("TICKETLAB_CACHE", str(cache_root))


@pytest.fixture(scope="session")
def mnist() -> Dataset:
    return load_dataset(DataConfig(), download=False)


@pytest.fixture(scope="session")
def mnist_small() -> Dataset:
    return load_dataset(
        DataConfig(train_subset=2000, val_size=1000, test_subset=2000), download=False
    )
