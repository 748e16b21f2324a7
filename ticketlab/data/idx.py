"""MNIST-format (IDX) datasets: parsing, lookup in local folders, official download.

In each data root, the dataset's own subfolders (``mnist/``, torchvision's ``MNIST/raw/``)
are tried before the root itself; files may be ``.gz`` or uncompressed.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ticketlab.data.paths import EXPLICIT_HINT, cache_dir, data_roots, fetch
from ticketlab.errors import DataError

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
    dirs = []
    for root in data_roots(data_dir):
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
    if data_dir is not None:
        problem = f"\n{EXPLICIT_HINT}"
    elif download:
        try:
            return download_idx(name, cache_dir() / IDX_SOURCES[name].subdirs[0])
        except DataError as e:
            problem = f"\nDownload failed: {e}"
    names = ", ".join(stem + ".gz" for stem in IDX_FILES.values())
    looked = "\n  ".join(str(d) for d in dirs)
    where = "" if data_dir is None else f" in --data-dir {data_dir}"
    raise DataError(
        f"dataset {name!r} not found{where}: need {names} (or uncompressed) in one folder. "
        f"Looked in:\n  {looked}{problem}\nPoint --data-dir or TICKETLAB_DATA at a folder "
        "holding them."
    )


def download_idx(name: str, dest: Path) -> dict[str, Path]:
    """Download the official files into ``dest``, each checked by MD5."""
    source = IDX_SOURCES[name]
    out = {}
    for key, stem in IDX_FILES.items():
        fname = stem + ".gz"
        out[key] = fetch(source.mirrors, fname, dest / fname, source.md5[fname])
    return out


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
