"""The config reference, generated from the schema: every key with its type, default and
meaning. The docs site renders it (``docs/hooks.py``); ``ticketlab config`` prints values."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ticketlab.config.schema import Config, TrainConfig


def reference_rows(cls: type = Config, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(key, type, default, meaning)`` for every key of ``cls``, sections flattened into
    dotted keys. Raises ``ValueError`` naming a key that has no description."""
    rows = []
    defaults = cls()
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        doc = f.metadata.get("doc", "").strip()
        if not doc:
            raise ValueError(f"config key {key} has no description in the schema")
        value = getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            rows.extend(reference_rows(type(value), f"{key}."))
            continue
        tp = str(f.type).replace(TrainConfig.__name__, "setting").replace(" | ", " or ")
        rows.append((key, tp, _shown(value), doc))
    return rows


def _shown(value: Any) -> str:
    return "null" if value is None else json.dumps(value)


def reference_markdown() -> str:
    """The reference as a Markdown page."""
    lines = [
        "# Config reference",
        "",
        "Generated from the config schema (`ticketlab/config/schema.py`). Defaults are those "
        "of a config file that leaves a key out; a preset sets some of them (`ticketlab "
        "config --preset NAME` prints every value of one). Unknown keys and invalid values "
        "are rejected before any work starts, with the key named. Override any key with "
        "`--set KEY=VALUE` (the value is read as YAML), e.g. `--set train.lr=3e-3`.",
        "",
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for key, tp, default, doc in reference_rows():
        lines.append(f"| `{key}` | `{tp}` | `{default}` | {doc.replace('|', '/')} |")
    lines += [
        "",
        "Each entry of `transfer.settings` takes the keys of `train` (`optimizer`, `lr`, ...).",
        "",
    ]
    return "\n".join(lines)
