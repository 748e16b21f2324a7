"""Colour image datasets: CIFAR-10 (official pickles) and image folders, native and 28x28.

Native arrays are uint8 ``[N, 3, H, W]``. For 784-input models, ``to_gray28`` converts each
image to grayscale with the ITU-R BT.601 luma weights (0.299 R + 0.587 G + 0.114 B) and then
resizes it to 28x28 by exact area averaging: every output pixel is the mean of the input area
it covers, fractional boundary pixels weighted by their overlap. Values are rounded to uint8.

CIFAR-10 is read from ``cifar-10-batches-py/`` or the official ``cifar-10-python.tar.gz``
(downloaded with an MD5 check when nothing local is found), or from an image-folder copy
``<root>/{train,test}/<class>/*.{png,jpg}``. An image folder is any such tree of any classes
(``imagefolder:PATH``); classes are the sorted subfolder names of ``train/``. Decoding many
files is slow, so decoded arrays are cached under the user cache, keyed by the folder's
resolved path and every file's name, size and modification time.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from ticketlab.data.paths import EXPLICIT_HINT, cache_dir, data_roots, fetch
from ticketlab.errors import DataError

CIFAR_URL = ("https://www.cs.toronto.edu/~kriz/",)
CIFAR_TAR = "cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]`` weights of exact area-averaging resampling along one axis."""
    scale = n_in / n_out
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), int(np.ceil(hi))):
            m[i, j] = min(hi, j + 1) - max(lo, j)
    return m / scale


GRAY_CHUNK = 500  # images converted at a time


def to_gray28(x: np.ndarray, where: str = "images") -> np.ndarray:
    """uint8 ``[N, 3, H, W]`` -> uint8 ``[N, 784]`` (luma, then area-average to 28x28)."""
    n, c, h, w = x.shape
    if c != 3 or h < 28 or w < 28:
        raise DataError(
            f"{where}: images of shape {c}x{h}x{w} cannot be converted for a 784-input model "
            "(need 3-channel images of at least 28x28)"
        )
    rows, cols = area_matrix(h, 28), area_matrix(w, 28).T
    luma_weights = np.array([0.299, 0.587, 0.114])
    out = np.empty((n, 784), dtype=np.uint8)
    for start in range(0, n, GRAY_CHUNK):  # in chunks: float64 copies of all would be GBs
        part = x[start : start + GRAY_CHUNK].astype(np.float64)
        luma = np.tensordot(luma_weights, part, axes=([0], [1]))
        small = rows @ luma @ cols
        out[start : start + GRAY_CHUNK] = np.clip(np.rint(small), 0, 255).reshape(-1, 784)
    return out


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only: a CIFAR batch needs nothing else,
    and a crafted file cannot run code."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name}")
        return super().find_class(module, name)


def read_cifar_batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> uint8 ``[N, 3, 32, 32]`` and int64 labels."""
    try:
        d = _ArrayUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as e:  # any unpickling failure means the file is not a CIFAR batch
        raise DataError(f"{where}: not a valid CIFAR-10 batch pickle ({e})") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        keys = sorted(d) if isinstance(d, dict) else type(d).__name__
        raise DataError(f"{where}: expected a dict with keys b'data' and b'labels', got {keys}")
    data, labels = np.asarray(d[b"data"]), np.asarray(d[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(
            f"{where}: b'data' must be uint8 of shape [N, 3072], got {data.dtype} {data.shape}"
        )
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise DataError(
            f"{where}: b'labels' must hold {data.shape[0]} labels in 0..9, got shape {labels.shape}"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _cifar_from_blobs(get: Any, where: str) -> Arrays:
    parts = [read_cifar_batch(get(b), f"{where}/{b}") for b in CIFAR_BATCHES]
    xte, yte = read_cifar_batch(get("test_batch"), f"{where}/test_batch")
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), xte, yte)


def _cifar_from_dir(folder: Path) -> Arrays:
    return _cifar_from_blobs(lambda b: (folder / b).read_bytes(), str(folder))


def _cifar_from_tar(path: Path) -> Arrays:
    try:
        with tarfile.open(path, "r:gz") as tar:
            blobs = {}
            for name in [*CIFAR_BATCHES, "test_batch"]:
                member = tar.extractfile(f"cifar-10-batches-py/{name}")
                if member is None:
                    raise KeyError(name)
                blobs[name] = member.read()
    except (tarfile.TarError, OSError, EOFError, KeyError) as e:
        raise DataError(f"{path}: not a readable CIFAR-10 archive ({e})") from None
    return _cifar_from_blobs(blobs.__getitem__, str(path))


def locate_cifar10(data_dir: str | Path | None, download: bool) -> tuple[str, Path]:
    """(kind, path) of the first CIFAR-10 source found: ``batches``, ``tar`` or ``folder``."""
    looked = []
    for root in data_roots(data_dir):
        for base in (root, root / "cifar10", root / "cifar-10"):
            looked.append(base)
            if all(
                (base / "cifar-10-batches-py" / b).is_file() for b in [*CIFAR_BATCHES, "test_batch"]
            ):
                return "batches", base / "cifar-10-batches-py"
            if (base / CIFAR_TAR).is_file():
                return "tar", base / CIFAR_TAR
        for folder in (root / "cifar10-jpeg", root / "cifar10"):
            if (folder / "train").is_dir() and (folder / "test").is_dir():
                return "folder", folder
    problem = ""
    if data_dir is not None:
        problem = f"\n{EXPLICIT_HINT}"
    elif download:
        try:
            return "tar", fetch(
                CIFAR_URL, CIFAR_TAR, cache_dir() / "cifar10" / CIFAR_TAR, CIFAR_MD5
            )
        except DataError as e:
            problem = f"\nDownload failed: {e}"
    places = "\n  ".join(map(str, looked))
    where = "" if data_dir is None else f" in --data-dir {data_dir}"
    raise DataError(
        f"dataset 'cifar10' not found{where}: need cifar-10-batches-py/, cifar-10-python.tar.gz "
        f"or an image folder cifar10-jpeg/{{train,test}}/<class>/ in one of:\n  {places}"
        f"{problem}"
    )


def load_cifar10_native(data_dir: str | Path | None = None, download: bool = True) -> Arrays:
    """CIFAR-10 as native uint8 ``[N, 3, 32, 32]`` arrays (for conv models)."""
    kind, path = locate_cifar10(data_dir, download)
    if kind == "batches":
        return _cifar_from_dir(path)
    if kind == "tar":
        return _cifar_from_tar(path)
    return load_image_folder_native(path)[0]


def _list_folder(root: Path) -> tuple[list[str], dict[str, list[tuple[str, int]]]]:
    """The class names and each split's images as (path relative to ``root``, label), by
    class folder and file name. Names are sorted as strings, not ``Path`` objects: for a
    folder of 60,000 images that takes a second instead of five (the same order)."""
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        raise DataError(f"{root}: an image folder needs train/ and test/ subfolders")
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{root / 'train'}: no class subfolders (expected train/<class>/*.png)")
    if len(classes) < 2:
        raise DataError(
            f"{root / 'train'}: an image folder needs at least two classes (class subfolders), "
            f"found only {classes[0]!r}"
        )
    files: dict[str, list[tuple[str, int]]] = {}
    for split in ("train", "test"):
        found = []
        for name in sorted(os.listdir(root / split)):
            p = root / split / name
            if not p.is_dir():
                continue
            if name not in classes:
                raise DataError(f"{p}: class {name!r} is not among the train/ classes")
            label = classes.index(name)
            images = [
                (f"{split}/{name}/{f}", label)
                for f in sorted(os.listdir(p))
                if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES
            ]
            if not images:
                raise DataError(
                    f"{p}: no .png or .jpg images; every class needs training and test images "
                    "(remove the folder or add images)"
                )
            found += images
        missing = sorted(set(classes) - {classes[lab] for _, lab in found})
        if missing:
            raise DataError(
                f"{root / split}: no folder for class(es) {', '.join(missing)}; train/ and "
                "test/ must hold the same classes"
            )
        files[split] = found
    return classes, files


def _decode(root: Path, files: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
    images, shape = [], None
    for name, _ in files:
        path = root / name
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path}: unreadable image ({e})") from None
        if shape is None:
            shape = arr.shape
        elif arr.shape != shape:
            raise DataError(
                f"{path}: image is {arr.shape[1]}x{arr.shape[0]}, the others "
                f"{shape[1]}x{shape[0]}; all images must have one size"
            )
        images.append(arr)
    x = np.stack(images).transpose(0, 3, 1, 2).copy()
    return x, np.array([lab for _, lab in files], dtype=np.int64)


def load_image_folder_native(root: str | Path) -> tuple[Arrays, list[str]]:
    """Decode ``root/{train,test}/<class>/*`` (cached) -> native arrays and class names."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    classes, files = _list_folder(root)
    h = hashlib.sha256(str(root).encode())
    base = str(root)
    for split in ("train", "test"):
        for name, label in files[split]:
            st = os.stat(os.path.join(base, name))
            h.update(f"{name}|{label}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    cached = cache_dir() / "decoded" / f"{h.hexdigest()[:32]}.npz"
    if cached.is_file():
        with np.load(cached) as z:
            arrays = (z["xtr"], z["ytr"], z["xte"], z["yte"])
        return arrays, classes
    xtr, ytr = _decode(root, files["train"])
    xte, yte = _decode(root, files["test"])
    if xtr.shape[1:] != xte.shape[1:]:
        raise DataError(f"{root}: train images are {xtr.shape[1:]} but test images {xte.shape[1:]}")
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f".{cached.stem}.tmp.npz")
    np.savez(tmp, xtr=xtr, ytr=ytr, xte=xte, yte=yte)
    tmp.replace(cached)
    return (xtr, ytr, xte, yte), classes
