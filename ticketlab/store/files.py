"""Writing run files so that nothing written is ever lost or half-written: a temporary
name, fsync, rename, fsync of the folder; temporary files carry their writer's pid, so a
later command removes a dead writer's and leaves a live one's."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from ticketlab.errors import RunLocked, WriteError, warn


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: str | Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)``, then make the file durable and rename it over ``path``: a
    crash or power loss leaves the old file or the new one, never a partial or empty one.
    The file gets the mode a plain write would (0666 less the umask), not mkstemp's 0600.
    Any failure to write (disk full, permissions, quota) is a ``WriteError`` naming
    ``path``."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{path.name}.{os.getpid()}."  # the writer's pid: see sweep_stale
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except (OSError, SafetensorError) as e:
        raise WriteError(path, e) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


STALE = re.compile(r"\.(\d+)\.[^.]+\.tmp$")


def sweep_stale(root: Path) -> None:
    """Remove temporary files under ``root`` left by writers that no longer run (killed
    mid-write); those of a live writer (a report beside a run) are left alone."""
    for tmp in root.rglob(".*.tmp"):
        match = STALE.search(tmp.name)
        if match is None:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:  # alive, another user's
            pass


@contextlib.contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock (``.lock``, with the holder's pid) while a command writes into
    it; the OS releases it when the process ends, killed or not. Held by another process:
    ``RunLocked``. Once held, temporary files left by a killed writer are removed."""
    with open(folder / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip()
            raise RunLocked(folder, int(holder) if holder.isdigit() else None) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        sweep_stale(folder)
        yield


def held(folder: Path) -> bool:
    """Whether a process holds ``folder``'s lock, i.e. is writing into it now."""
    try:
        with open(folder / ".lock") as f:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no lock file (never written) or unreadable: nobody is writing
        return False
    return False


class FileCheckpoint:
    """A training's saved state in one file, written like every run file (temporary name,
    fsync, rename) and read back with ``torch.load(weights_only=True)``: tensors, numbers
    and lists only, never arbitrary pickled objects."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None: none saved, or one that cannot be read (a warning; the
        cohort then trains from its start, which gives the same numbers)."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, weights_only=True)
            assert isinstance(state, dict)
            return state
        except Exception as e:  # any unreadable file: torch raises many kinds
            warn(
                f"checkpoint {self.path} is damaged ({type(e).__name__}); its cohort trains "
                "again from the start"
            )
            self.path.unlink(missing_ok=True)
            return None

    def save(self, state: dict[str, Any]) -> None:
        atomic_write(self.path, lambda tmp: torch.save(state, tmp))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
