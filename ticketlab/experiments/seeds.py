"""Every random draw of an experiment takes its seed from here: the run's seeds and where
the draw happens, hashed."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, stable across Python versions and machines."""
    blob = "/".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") >> 1
