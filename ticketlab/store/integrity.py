"""Checksums that catch damage where it happens.

Tensor files carry the SHA-256 of their tensors in their safetensors metadata. The text
files that matter (``config.yaml``, ``run.json``, ``branch.json``) have theirs in the run's
``checksums.json``; a write first adds the new digest beside the old one, then writes the
file, then keeps only the new digest, so a process killed in between leaves a file that
matches one of them. Files written before checksums existed have none: they are
unchecked, never reported as damaged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ticketlab.errors import DamagedFile
from ticketlab.store.files import atomic_write, atomic_write_text

CHECKSUMS = "checksums.json"
CHECKED = ("config.yaml", "run.json", "branch.json")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write ``tensors`` to ``path`` (atomically) with their digest in the metadata."""
    data = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"sha256": tensors_digest(data)}
    atomic_write(path, lambda tmp: save_file(data, tmp, metadata=meta))


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], bool]:
    """The tensors of ``path`` and whether they were checked against a digest (files made
    before digests have none). A file that cannot be read or does not match its digest is
    ``DamagedFile``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, RuntimeError) as e:
        raise DamagedFile(path, f"it cannot be read as tensors ({e})") from None
    want = meta.get("sha256")
    if want is not None and tensors_digest(tensors) != want:
        raise DamagedFile(path, "its tensors do not match their checksum")
    return tensors, want is not None


class Checksums:
    """The digests of a run directory's checked text files (``checksums.json``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / CHECKSUMS

    def table(self) -> dict[str, list[str]]:
        if not self.path.is_file():
            return {}
        try:
            table = json.loads(self.path.read_text())
            assert isinstance(table, dict)
        except (ValueError, AssertionError, OSError) as e:
            raise DamagedFile(
                self.path,
                f"it is not a table of checksums ({e})",
                f"`ticketlab verify --repair {self.root}` rewrites it from the files",
            ) from None
        return table

    def write_text(self, name: str, text: str) -> None:
        """Write ``name`` (one of ``CHECKED``) with its digest recorded around the write."""
        new = sha256_bytes(text.encode())
        table = self.table()
        self._save(table | {name: [new, *table.get(name, [])[:1]]})
        atomic_write_text(self.root / name, text)
        self._save(table | {name: [new]})

    def read_text(self, name: str) -> str:
        """The text of ``name``; ``DamagedFile`` when it does not match its digest."""
        path = self.root / name
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DamagedFile(path, f"it cannot be read ({e.strerror})") from None
        want = self.table().get(name)
        if want is not None and sha256_bytes(data) not in want:
            raise DamagedFile(path, "its content does not match its checksum")
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise DamagedFile(path, "it is not text") from None

    def status(self, name: str) -> str:
        """``ok``, ``unchecked`` (no digest), ``missing`` or ``damaged``."""
        path = self.root / name
        if not path.is_file():
            return "missing"
        want = self.table().get(name)
        if want is None:
            return "unchecked"
        return "ok" if sha256_bytes(path.read_bytes()) in want else "damaged"

    def rewrite(self) -> None:
        """Digests of the checked files as they are now (``verify --repair``, after it has
        found them readable)."""
        self._save(
            {
                n: [sha256_bytes((self.root / n).read_bytes())]
                for n in CHECKED
                if (self.root / n).is_file()
            }
        )

    def _save(self, table: dict[str, list[str]]) -> None:
        atomic_write_text(self.path, json.dumps(table, indent=1, sort_keys=True) + "\n")
