"""Where datasets and caches live, and the checked download of official files.

Data roots: an explicit ``data_dir`` alone (it must exist, and nothing else is looked in or
downloaded, so a typo cannot silently run on other data); without one, the
``TICKETLAB_DATA`` environment variable, then the user cache (``TICKETLAB_CACHE``, else
``$XDG_CACHE_HOME/ticketlab``, else ``~/.cache/ticketlab``), which is also where downloads and
decoded-image caches go.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ticketlab.errors import DataError


def cache_dir() -> Path:
    if env := os.environ.get("TICKETLAB_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ticketlab"


EXPLICIT_HINT = (
    "An explicit --data-dir is the only place looked in (nothing is downloaded); omit it to "
    "use $TICKETLAB_DATA and the cache, downloading there when online."
)


def data_roots(data_dir: str | Path | None) -> list[Path]:
    if data_dir is not None:
        path = Path(data_dir)
        if not path.is_dir():
            raise DataError(f"--data-dir {path} does not exist or is not a folder")
        return [path]
    roots: list[Path] = []
    if env := os.environ.get("TICKETLAB_DATA"):
        roots.append(Path(env))
    roots.append(cache_dir())
    return roots


def fetch(mirrors: tuple[str, ...], fname: str, target: Path, md5: str) -> Path:
    """Download ``fname`` from the first mirror that serves it with the right MD5 into
    ``target`` (kept if already there). Written to a temporary name and renamed, so a broken
    download never leaves a partial file under the final name."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        try:
            _fetch_one(mirror + fname, target, md5)
            return target
        except (OSError, urllib.error.URLError, DataError) as e:
            errors.append(f"{mirror}{fname}: {e}")
    raise DataError("; ".join(errors))


def _fetch_one(url: str, target: Path, md5: str) -> None:
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
