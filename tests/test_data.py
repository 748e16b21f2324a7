import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from ticketlab.config import DataConfig
from ticketlab.data import Dataset, load_dataset
from ticketlab.errors import DataError
from ticketlab.idx import IDX_FILES, read_idx


def write_idx(
    path: Path, arr: np.ndarray, magic: int | None = None, compress: bool = True, cut: int = 0
) -> None:
    code = magic if magic is not None else (0x0801 if arr.ndim == 1 else 0x0803)
    blob = struct.pack(">I", code) + struct.pack(f">{arr.ndim}I", *arr.shape)
    blob += arr.astype(np.uint8).tobytes()
    blob = blob[: len(blob) - cut]
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(blob)
    else:
        path.write_bytes(blob)


def write_dataset(folder: Path, n_train: int = 50, n_test: int = 20, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        stem = "train" if split == "train" else "t10k"
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))


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


def test_split_is_deterministic_and_disjoint(tmp_path: Path) -> None:
    write_dataset(tmp_path, n_train=100)
    cfg = DataConfig(val_size=30)
    a, b = load_dataset(cfg, tmp_path, download=False), load_dataset(cfg, tmp_path, False)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.val.x, b.val.x)
    assert (len(a.train), len(a.val)) == (70, 30)
    rows = {tuple(r.tolist()) for r in a.train.x} & {tuple(r.tolist()) for r in a.val.x}
    assert not rows
    c = load_dataset(DataConfig(val_size=30, split_seed=1), tmp_path, False)
    assert not torch.equal(a.val.x, c.val.x)
    sub = load_dataset(DataConfig(val_size=30, train_subset=10), tmp_path, False)
    assert len(sub.train) == 10 and torch.equal(sub.val.x, a.val.x)


@pytest.mark.parametrize("layout", ["", "mnist", "MNIST/raw"])
def test_lookup_layouts(tmp_path: Path, layout: str) -> None:
    write_dataset(tmp_path / layout)
    ds = load_dataset(DataConfig(val_size=10), tmp_path, download=False)
    assert len(ds.train) == 40 and len(ds.test) == 20


def test_uncompressed_files_and_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    for stem in IDX_FILES.values():
        shape = (30, 28, 28) if "images" in stem else (30,)
        write_idx(tmp_path / stem, rng.integers(0, 10, shape), compress=False)
    monkeypatch.setenv("TICKETLAB_DATA", str(tmp_path))
    assert len(load_dataset(DataConfig(val_size=5), None, download=False).train) == 25


def test_missing_files_name_files_and_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETLAB_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(), tmp_path / "explicit", download=False)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    cache = Path(os.environ["TICKETLAB_CACHE"])
    for place in (
        tmp_path / "explicit",
        tmp_path / "explicit" / "MNIST" / "raw",
        tmp_path / "env" / "mnist",
        cache,
    ):
        assert f"  {place}\n" in msg
    assert msg.index(str(tmp_path / "explicit")) < msg.index(str(tmp_path / "env"))
    assert "TICKETLAB_DATA" in msg


def test_wrong_magic(tmp_path: Path) -> None:
    write_idx(tmp_path / "x.gz", np.zeros(5), magic=0x0802)
    with pytest.raises(DataError, match=r"x.gz: bad IDX magic number 0x00000802"):
        read_idx(tmp_path / "x.gz")


def test_truncated_payload(tmp_path: Path) -> None:
    write_idx(tmp_path / "x.gz", np.zeros((4, 28, 28)), cut=100)
    with pytest.raises(
        DataError,
        match=r"header says 4x28x28 = 3136 bytes of data but the file"
        r" holds 3036",
    ):
        read_idx(tmp_path / "x.gz")


def test_truncated_gzip(tmp_path: Path) -> None:
    write_idx(tmp_path / "x.gz", np.zeros((40, 28, 28)))
    blob = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        read_idx(tmp_path / "x.gz")


def test_mismatched_counts(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(49))
    with pytest.raises(DataError, match=r"holds 50 images but .* holds 49 labels"):
        load_dataset(DataConfig(val_size=10), tmp_path, download=False)
