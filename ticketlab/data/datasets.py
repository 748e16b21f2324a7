"""Datasets as whole tensors on the training device: the registry, splits, statistics.

A ``Dataset`` holds uint8 inputs, one flat row per example (``[N, 784]`` for 28x28
grayscale), the image shape ``(C, H, W)`` those rows unfold to, and int64 labels for its
train, validation and test splits; ``Dataset.normalise`` turns a batch of uint8 rows into floats
standardised with the dataset's own training-split statistics. There is no per-sample
Python anywhere in training.

Names: ``mnist``, ``fashion_mnist`` (IDX files, ``idx.py``), ``cifar10`` and
``imagefolder:PATH`` (``images.py``; converted to 28x28 grayscale with ``data.input:
gray28``, as stored with ``native``), ``maxgroup``
(synthetic, ``maxgroup.py``). Files are looked for as ``paths.py`` describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ticketlab.config import DataConfig, MaxGroupConfig
from ticketlab.data import idx, images, maxgroup
from ticketlab.errors import DataError


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
    shape: tuple[int, ...] = (1, 28, 28)  # what one row unfolds to: (C, H, W)

    @property
    def input_dim(self) -> int:
        return self.train.x.shape[1]

    def split(self, which: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[which]

    @property
    def nbytes(self) -> int:
        """Memory held by the split tensors."""
        return sum(
            t.numel() * t.element_size()
            for s in (self.train, self.val, self.test)
            for t in (s.x, s.y)
        )

    def normalise(self, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """uint8 pixels -> floats standardised with the training split's statistics."""
        return (x.to(dtype) * (1.0 / (255.0 * self.std))).sub_(self.mean / self.std)

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
            self.shape,
        )


def stratified_subset(labels: np.ndarray, k: int, seed: int | list[int]) -> np.ndarray:
    """Sorted indices of ``k`` of ``labels``' examples, drawn at random (seeded) within each
    class, every class in proportion to its share (largest remainders, lower class first on
    ties), so a subset of a class-sorted set still holds every class."""
    n = len(labels)
    if k >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * k / n
    quota = np.floor(exact).astype(np.int64)
    extra = np.argsort(-(exact - quota), kind="stable")[: k - quota.sum()]
    quota[extra] += 1
    picked = [
        rng.permutation(np.flatnonzero(labels == c))[:q]
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picked))


def split_indices(
    n: int, val_size: int, seed: int, subset: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic train/validation split of ``n`` examples (sorted index sets); with
    ``subset``, the first ``subset`` of the rest in a seeded random order (protocol 1)."""
    if val_size >= n:
        raise DataError(f"data.val_size={val_size} leaves no training data out of {n} examples")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val = perm[:val_size].sort().values
    rest = perm[val_size:]
    if subset is not None:
        rest = rest[:subset]
    return rest.sort().values, val


def subset_indices(
    y_train: np.ndarray, y_test: np.ndarray, cfg: DataConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train, validation and test indices under ``cfg``. The validation split is a seeded
    random draw; ``train_subset`` and ``test_subset`` are stratified seeded draws
    (``subset_sampling: stratified``) or, as in protocol 1, a seeded random draw and the
    first N test examples (``legacy``)."""
    n_test = len(y_test)
    if cfg.subset_sampling == "legacy":
        tr, val = split_indices(len(y_train), cfg.val_size, cfg.split_seed, cfg.train_subset)
        te = torch.arange(n_test if cfg.test_subset is None else min(cfg.test_subset, n_test))
        return tr, val, te
    tr, val = split_indices(len(y_train), cfg.val_size, cfg.split_seed, None)
    if cfg.train_subset is not None:
        pick = stratified_subset(y_train[tr.numpy()], cfg.train_subset, [cfg.split_seed, 0])
        tr = tr[torch.from_numpy(pick)]
    te = torch.arange(n_test)
    if cfg.test_subset is not None:
        te = torch.from_numpy(stratified_subset(y_test, cfg.test_subset, [cfg.split_seed, 1]))
    return tr, val, te


def pixel_stats(x: torch.Tensor) -> tuple[float, float]:
    """Mean and (sample) std of uint8 pixels scaled to [0, 1], from a histogram of the 256
    values: exact two-pass sums without a float copy of the images."""
    counts = torch.bincount(x.flatten(), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255.0
    n = counts.sum()
    mean = (counts * values).sum() / n
    var = (counts * (values - mean) ** 2).sum() / (n - 1)
    return mean.item(), var.sqrt().item()


def build_dataset(
    name: str,
    xtr: np.ndarray,
    ytr: np.ndarray,
    xte: np.ndarray,
    yte: np.ndarray,
    cfg: DataConfig,
    num_classes: int,
    shape: tuple[int, ...] = (1, 28, 28),
) -> Dataset:
    """Split and wrap flat arrays; the mean/std come from the training split only."""
    tr_idx, val_idx, te_idx = subset_indices(ytr, yte, cfg)
    x_all = torch.from_numpy(xtr.copy())
    y_all = torch.from_numpy(ytr.astype(np.int64))
    train = Split(x_all[tr_idx].contiguous(), y_all[tr_idx].contiguous())
    val = Split(x_all[val_idx].contiguous(), y_all[val_idx].contiguous())
    te = te_idx.numpy()
    test = Split(torch.from_numpy(xte[te]), torch.from_numpy(yte[te].astype(np.int64)))
    mean, std = pixel_stats(train.x)
    bad = int(max(ytr.max(initial=0), yte.max(initial=0)))
    if bad >= num_classes:
        raise DataError(f"{name}: label {bad} out of range for {num_classes} classes")
    return Dataset(name, train, val, test, mean, std, num_classes, shape)


def load_arrays(
    name: str,
    data_dir: str | Path | None,
    download: bool,
    mg: MaxGroupConfig,
    native: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], int, tuple[int, ...]]:
    """Flat uint8 arrays of a named dataset (``[N, 784]``, or with ``native`` colour images
    as stored, ``[N, C*H*W]``), its number of classes and its image shape."""
    gray = (1, 28, 28)
    if name in idx.IDX_SOURCES:
        return (
            idx.load_idx_arrays(name, data_dir, download),
            idx.IDX_SOURCES[name].num_classes,
            gray,
        )
    if name == "maxgroup":
        arrays = maxgroup.generate(
            mg.train_size, mg.test_size, mg.groups, mg.seed, mg.group_size == "equal"
        )
        return arrays, mg.groups, gray
    if name == "cifar10":
        xtr, ytr, xte, yte = images.load_cifar10_native(data_dir, download)
        classes = 10
    elif name.startswith("imagefolder:"):
        (xtr, ytr, xte, yte), names = images.load_image_folder_native(name.split(":", 1)[1])
        classes = len(names)
    else:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(KNOWN)} or imagefolder:PATH")
    if native:
        shape = tuple(int(d) for d in xtr.shape[1:])
        return (xtr.reshape(len(xtr), -1), ytr, xte.reshape(len(xte), -1), yte), classes, shape
    return (images.to_gray28(xtr, name), ytr, images.to_gray28(xte, name), yte), classes, gray


def locate_dataset(name: str, data_dir: str | Path | None, download: bool = True) -> None:
    """Check that a dataset's files can be found (downloading them when allowed) without
    reading them: a sweep checks its data this way before any trial starts. Raises the
    ``DataError`` loading would raise."""
    if name in idx.IDX_SOURCES:
        idx.locate_idx(name, data_dir, download)
    elif name == "cifar10":
        images.locate_cifar10(data_dir, download)
    elif name.startswith("imagefolder:"):
        folder = Path(name.split(":", 1)[1])
        if not (folder / "train").is_dir() or not (folder / "test").is_dir():
            raise DataError(
                f"image folder {folder} must hold train/<class>/ and test/<class>/ folders"
            )


KNOWN = (*idx.IDX_SOURCES, "cifar10", "maxgroup")
NAMES = {
    "mnist": "MNIST",
    "fashion_mnist": "FashionMNIST",
    "cifar10": "CIFAR-10",
    "maxgroup": "MaxGroup",
}


def display(dataset: str) -> str:
    """A dataset's name as papers write it (an image folder by its folder name)."""
    if dataset.startswith("imagefolder:"):
        return Path(dataset.split(":", 1)[1]).name
    return NAMES.get(dataset, dataset)


def load_dataset(
    cfg: DataConfig,
    data_dir: str | Path | None = None,
    download: bool = True,
    *,
    name: str | None = None,
    maxgroup_cfg: MaxGroupConfig | None = None,
) -> Dataset:
    """Load dataset ``name`` (default ``cfg.dataset``) as CPU tensors, split and standardised
    by ``cfg``; move it with ``.to(device)``."""
    name = name or cfg.dataset
    arrays, classes, shape = load_arrays(
        name, data_dir, download, maxgroup_cfg or MaxGroupConfig(), cfg.input == "native"
    )
    return build_dataset(name, *arrays, cfg, classes, shape)
