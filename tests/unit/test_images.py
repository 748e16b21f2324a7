import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ticketlab.config import DataConfig
from ticketlab.data.datasets import load_dataset
from ticketlab.data.images import area_matrix, load_cifar10_native, read_cifar_batch, to_gray28
from ticketlab.errors import DataError

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def cifar_batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"x",
        b"labels": rng.integers(0, 10, n).tolist(),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"f.png"] * n,
    }


def write_cifar_dir(root: Path, n: int = 8) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate(BATCHES):
        (folder / name).write_bytes(pickle.dumps(cifar_batch(n, i), protocol=2))
    return folder


def test_official_batches_folder_and_tarball(tmp_path: Path) -> None:
    write_cifar_dir(tmp_path / "a")
    xtr, ytr, xte, yte = load_cifar10_native(tmp_path / "a", download=False)
    assert xtr.shape == (40, 3, 32, 32) and xte.shape == (8, 3, 32, 32)
    first = cifar_batch(8, 0)
    assert (xtr[:8].reshape(8, -1) == first[b"data"]).all()
    assert ytr[:8].tolist() == first[b"labels"]
    (tmp_path / "b").mkdir()
    with tarfile.open(tmp_path / "b" / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "a" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    again = load_cifar10_native(tmp_path / "b", download=False)
    assert all((u == v).all() for u, v in zip(again, (xtr, ytr, xte, yte), strict=True))


@pytest.mark.parametrize(
    "blob, message",
    [
        (b"definitely not a pickle", "not a valid CIFAR-10 batch pickle"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "expected a dict with keys"),
        (
            pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}),
            "must be uint8 of shape [N, 3072]",
        ),
        (
            pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}),
            "must hold 2 labels in 0..9",
        ),
        (pickle.dumps([1, 2, 3]), "expected a dict with keys"),
    ],
)
def test_bad_cifar_batches(blob: bytes, message: str) -> None:
    with pytest.raises(DataError) as e:
        read_cifar_batch(blob, "some/data_batch_1")
    assert "some/data_batch_1" in str(e.value) and message in str(e.value)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_pickle_cannot_run_code() -> None:
    with pytest.raises(DataError, match="forbidden global"):
        read_cifar_batch(pickle.dumps({b"data": Evil()}), "evil")


def test_bad_batch_file_named_in_error_and_nothing_written(tmp_path: Path) -> None:
    folder = write_cifar_dir(tmp_path)
    (folder / "data_batch_3").write_bytes(b"\x80\x04garbage")
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset(DataConfig(val_size=4), tmp_path, download=False, name="cifar10")
    assert sorted(tmp_path.rglob("*")) == before


def write_folder(root: Path, classes: dict[str, int], size: int = 32, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for cls, n in classes.items():
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(arr).save(root / split / cls / f"{i}.png")


def test_image_folder_dataset_and_cache(tmp_path: Path, cache_root: Path) -> None:
    write_folder(tmp_path / "imgs", {"cat": 6, "dog": 4})
    name = f"imagefolder:{tmp_path / 'imgs'}"
    ds = load_dataset(DataConfig(val_size=2), name=name, download=False)
    assert (len(ds.train), len(ds.val), len(ds.test), ds.num_classes) == (8, 2, 10, 2)
    assert sorted(set(ds.test.y.tolist())) == [0, 1] and ds.input_dim == 784
    img = np.asarray(Image.open(tmp_path / "imgs" / "test" / "cat" / "0.png"))
    expect = to_gray28(img.transpose(2, 0, 1)[None], "t")[0]
    assert (ds.test.x[0].numpy() == expect).all()  # test split keeps file order
    cached = list((cache_root / "decoded").glob("*.npz"))
    assert cached, "decoded arrays are cached"
    again = load_dataset(DataConfig(val_size=2), name=name, download=False)
    assert (again.train.x == ds.train.x).all()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "imgs/test/cat/0.png")
    changed = load_dataset(DataConfig(val_size=2), name=name, download=False)
    assert not (changed.test.x[0] == ds.test.x[0]).all(), "a changed file is not served stale"


def test_image_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "test").mkdir()
    with pytest.raises(DataError, match="no class subfolders"):
        load_dataset(DataConfig(val_size=1), name=f"imagefolder:{tmp_path / 'empty'}")
    write_folder(tmp_path / "bad", {"a": 3, "b": 2})
    (tmp_path / "bad" / "train" / "a" / "9.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"bad/train/a/9.png: unreadable image"):
        load_dataset(DataConfig(val_size=1), name=f"imagefolder:{tmp_path / 'bad'}")
    write_folder(tmp_path / "tiny", {"a": 3, "b": 2}, size=16)
    with pytest.raises(DataError, match="16x16 cannot be converted for a 784-input model"):
        load_dataset(DataConfig(val_size=1), name=f"imagefolder:{tmp_path / 'tiny'}")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(DataConfig(val_size=1), name=f"imagefolder:{tmp_path / 'nope'}")


def test_image_folders_that_would_train_a_meaningless_model_are_refused(tmp_path: Path) -> None:
    """One class would report 100% accuracy; an empty class a phantom class."""

    def load(name: str) -> None:
        load_dataset(DataConfig(val_size=1), name=f"imagefolder:{tmp_path / name}")

    write_folder(tmp_path / "one", {"only": 3})
    with pytest.raises(DataError, match=r"one/train: an image folder needs at least two classes"):
        load("one")
    write_folder(tmp_path / "phantom", {"a": 3, "b": 3})
    (tmp_path / "phantom" / "train" / "c").mkdir()
    (tmp_path / "phantom" / "test" / "c").mkdir()
    with pytest.raises(DataError, match=r"phantom/train/c: no .png or .jpg images"):
        load("phantom")
    write_folder(tmp_path / "untested", {"a": 3, "b": 3})
    for f in (tmp_path / "untested" / "test" / "b").iterdir():
        f.unlink()
    (tmp_path / "untested" / "test" / "b").rmdir()
    with pytest.raises(DataError, match=r"untested/test: no folder for class\(es\) b"):
        load("untested")


def test_gray28_is_luma_then_area_average() -> None:
    rgb = np.zeros((1, 3, 32, 32), np.uint8)
    rgb[0, 0], rgb[0, 1], rgb[0, 2] = 200, 100, 50
    assert (to_gray28(rgb) == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)).all()
    ramp = np.broadcast_to(np.arange(32, dtype=np.uint8) * 8, (1, 3, 32, 32)).copy()
    out = to_gray28(ramp).reshape(28, 28).astype(float)
    # Output column 0 covers input columns [0, 8/7): all of column 0, 1/7 of column 1.
    assert out[0, 0] == round((0 * 1 + 8 * (1 / 7)) / (8 / 7))
    assert abs(out.mean() - ramp[0, 0].mean()) < 0.5  # area averaging keeps the mean
    m = area_matrix(32, 28)
    assert np.allclose(m.sum(1), 1) and np.allclose(m.sum(0), 28 / 32)
