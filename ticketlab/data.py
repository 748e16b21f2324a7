"""Datasets as whole tensors: IDX parsing, file lookup, official download, splits.

A ``Dataset`` holds uint8 images and int64 labels for its train, validation and test splits,
resident on the training device; ``Dataset.normalise`` turns a batch of uint8 rows into
standardised floats on the fly. There is no per-sample Python anywhere in training.

Where files are looked for, in order: an explicit ``data_dir``, the ``TICKETLAB_DATA``
environment variable, then the user cache (``TICKETLAB_CACHE``, else
``$XDG_CACHE_HOME/ticketlab``, else ``~/.cache/ticketlab``). In each root the dataset's own
subfolders (``mnist/``, torchvision's ``MNIST/raw/``) are tried before the root itself. When
nothing is found, the official files are downloaded into the cache and checked by MD5.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import DataConfig
from .errors import DataError

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class IdxSource:
    """Where an IDX dataset lives: folder names to try and the official download."""

    subdirs: tuple[str, ...]
    mirrors: tuple[str, ...]
    md5: dict[str, str]
    num_classes: int = 10


IDX_SOURCES = {
    "mnist": IdxSource(
        subdirs=("mnist", "MNIST/raw"),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion_mnist": IdxSource(
        subdirs=("fashion-mnist", "fashion_mnist", "FashionMNIST/raw"),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
}


@dataclass
class Split:
    x: torch.Tensor  # uint8 [N, features]
    y: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return self.y.shape[0]


@dataclass
class Dataset:
    """Train/validation/test splits as tensors plus the training-split statistics used to
    standardise inputs (one mean and std over all training pixels)."""

    name: str
    train: Split
    val: Split
    test: Split
    mean: float
    std: float
    num_classes: int

    @property
    def input_dim(self) -> int:
        return self.train.x.shape[1]

    def split(self, which: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[which]

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pixels -> float32 standardised with the training split's statistics."""
        return (x.to(torch.float32) * (1.0 / (255.0 * self.std))).sub_(self.mean / self.std)

    def to(self, device: torch.device | str) -> Dataset:
        def move(s: Split) -> Split:
            return Split(s.x.to(device), s.y.to(device))

        return Dataset(
            self.name,
            move(self.train),
            move(self.val),
            move(self.test),
            self.mean,
            self.std,
            self.num_classes,
        )


def cache_dir() -> Path:
    if env := os.environ.get("TICKETLAB_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ticketlab"


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (gzip-compressed or raw) of unsigned bytes, validating the magic
    number, the dimensions and the payload length."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                blob = f.read()
        else:
            blob = path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot read (corrupt or truncated gzip?): {e}") from None
    if len(blob) < 4:
        raise DataError(f"{path}: file is {len(blob)} bytes, too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", blob[:4])
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise DataError(
            f"{path}: bad IDX magic number 0x{blob[:4].hex()} (expected 0x00000801 for labels "
            "or 0x00000803 for images); is this really an MNIST-format file?"
        )
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", blob[4:header])
    expected = int(np.prod(dims))
    payload = len(blob) - header
    if payload != expected:
        raise DataError(
            f"{path}: header says {'x'.join(map(str, dims))} = {expected} bytes of data but the "
            f"file holds {payload} (truncated or padded file)"
        )
    return np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(dims)


def _find_file(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def candidate_dirs(name: str, data_dir: str | Path | None) -> list[Path]:
    """Every folder looked in for dataset ``name``, in order."""
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    if env := os.environ.get("TICKETLAB_DATA"):
        roots.append(Path(env))
    roots.append(cache_dir())
    dirs = []
    for root in roots:
        dirs += [root / sub for sub in IDX_SOURCES[name].subdirs] + [root]
    return dirs


def locate_idx(name: str, data_dir: str | Path | None, download: bool = True) -> dict[str, Path]:
    """Find the four IDX files of ``name``; download them into the cache if absent."""
    dirs = candidate_dirs(name, data_dir)
    for d in dirs:
        found = {k: _find_file(d, stem) for k, stem in IDX_FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    problem = ""
    if download:
        try:
            return download_idx(name, cache_dir() / IDX_SOURCES[name].subdirs[0])
        except DataError as e:
            problem = f"\nDownload failed: {e}"
    names = ", ".join(stem + ".gz" for stem in IDX_FILES.values())
    looked = "\n  ".join(str(d) for d in dirs)
    raise DataError(
        f"dataset {name!r} not found: need {names} (or uncompressed) in one folder. "
        f"Looked in:\n  {looked}{problem}\nPoint --data-dir or TICKETLAB_DATA at a folder "
        "holding them."
    )


def download_idx(name: str, dest: Path) -> dict[str, Path]:
    """Download the official files into ``dest``, verifying each MD5; write-then-rename so a
    broken download never leaves a partial file under the final name."""
    source = IDX_SOURCES[name]
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, stem in IDX_FILES.items():
        fname = stem + ".gz"
        target = dest / fname
        if not target.is_file():
            errors = []
            for mirror in source.mirrors:
                try:
                    _fetch(mirror + fname, target, source.md5[fname])
                    break
                except (OSError, urllib.error.URLError, DataError) as e:
                    errors.append(f"{mirror}{fname}: {e}")
            else:
                raise DataError("; ".join(errors))
        out[key] = target
    return out


def _fetch(url: str, target: Path, md5: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with urllib.request.urlopen(url, timeout=30) as r, os.fdopen(fd, "wb") as f:
            while chunk := r.read(1 << 20):
                digest.update(chunk)
                f.write(chunk)
        if digest.hexdigest() != md5:
            raise DataError(f"checksum mismatch (md5 {digest.hexdigest()}, expected {md5})")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3:
        raise DataError(f"{images}: expected a 3-dimensional image file, got {x.ndim} dims")
    if y.ndim != 1:
        raise DataError(f"{labels}: expected a 1-dimensional label file, got {y.ndim} dims")
    if len(x) != len(y):
        raise DataError(
            f"{images} holds {len(x)} images but {labels} holds {len(y)} labels; the counts "
            "must match"
        )
    return x.reshape(len(x), -1), y


def load_idx_arrays(
    name: str, data_dir: str | Path | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    files = locate_idx(name, data_dir, download)
    xtr, ytr = _pair(files["train_images"], files["train_labels"])
    xte, yte = _pair(files["test_images"], files["test_labels"])
    if xtr.shape[1] != xte.shape[1]:
        raise DataError(f"train images have {xtr.shape[1]} pixels but test images {xte.shape[1]}")
    return xtr, ytr, xte, yte


def split_indices(
    n: int, val_size: int, seed: int, subset: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic train/validation split of ``n`` examples (sorted index sets)."""
    if val_size >= n:
        raise DataError(f"data.val_size={val_size} leaves no training data out of {n} examples")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val = perm[:val_size].sort().values
    rest = perm[val_size:]
    if subset is not None:
        rest = rest[:subset]
    return rest.sort().values, val


def build_dataset(
    name: str,
    xtr: np.ndarray,
    ytr: np.ndarray,
    xte: np.ndarray,
    yte: np.ndarray,
    cfg: DataConfig,
    num_classes: int,
) -> Dataset:
    """Split and wrap arrays; the mean/std come from the training split only."""
    tr_idx, val_idx = split_indices(len(ytr), cfg.val_size, cfg.split_seed, cfg.train_subset)
    x_all = torch.from_numpy(xtr.copy())
    y_all = torch.from_numpy(ytr.astype(np.int64))
    train = Split(x_all[tr_idx].contiguous(), y_all[tr_idx].contiguous())
    val = Split(x_all[val_idx].contiguous(), y_all[val_idx].contiguous())
    n_test = len(yte) if cfg.test_subset is None else min(cfg.test_subset, len(yte))
    test = Split(
        torch.from_numpy(xte[:n_test].copy()),
        torch.from_numpy(yte[:n_test].astype(np.int64)),
    )
    pixels = train.x.to(torch.float64) / 255.0
    mean, std = pixels.mean().item(), pixels.std().item()
    bad = int(max(ytr.max(initial=0), yte.max(initial=0)))
    if bad >= num_classes:
        raise DataError(f"{name}: label {bad} out of range for {num_classes} classes")
    return Dataset(name, train, val, test, mean, std, num_classes)


def load_dataset(
    cfg: DataConfig, data_dir: str | Path | None = None, download: bool = True
) -> Dataset:
    """Load ``cfg.dataset`` as CPU tensors (move with ``.to(device)``)."""
    name = cfg.dataset
    if name not in IDX_SOURCES:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(IDX_SOURCES)}")
    arrays = load_idx_arrays(name, data_dir, download)
    return build_dataset(name, *arrays, cfg, IDX_SOURCES[name].num_classes)
