"""Building a config: from a preset or a YAML file, ``--set`` overrides, and branch configs."""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from ticketlab.config.presets import preset
from ticketlab.config.schema import Config
from ticketlab.errors import ConfigError


def from_dict(data: Any, where: str = "config") -> Config:
    """Build a validated Config from a (possibly partial) nested dict; missing keys take
    the defaults."""
    return _build(Config, data, where).validate()


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key(s) in {where}: {', '.join(map(str, unknown))}; "
            f"valid keys: {', '.join(fields)}"
        )
    kwargs = {}
    for key, value in data.items():
        kwargs[key] = _coerce(hints[key], value, key if where == "config" else f"{where}.{key}")
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 3e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r}")


def check_assignment(assignment: str, stray: str | None = None) -> None:
    """Refuse an override that is not ``KEY=VALUE``; ``stray`` is a word the command line
    took for something else (``--set train.lr 0.01`` leaves ``0.01`` as the config file),
    named in the hint."""
    if "=" in assignment:
        return
    hint = f"; did you mean --set {assignment}={stray}?" if stray else ""
    raise ConfigError(
        f"--set expects KEY=VALUE (e.g. train.lr=3e-3), got {assignment!r}: --set takes "
        f"KEY=VALUE as one word, with no spaces around '='{hint}"
    )


def apply_override(d: dict[str, Any], assignment: str) -> None:
    """Apply one ``section.key=value`` override (value parsed as YAML) to a config dict."""
    check_assignment(assignment)
    path, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {assignment!r}: value is not valid YAML: {e}") from None
    keys = path.strip().split(".")
    node = d
    for i, k in enumerate(keys[:-1]):
        if not isinstance(node.get(k), dict):
            raise ConfigError(
                f"--set {assignment!r}: {'.'.join(keys[: i + 1])} is not a config section"
            )
        node = node[k]
    if keys[-1] not in node:
        raise ConfigError(
            f"--set {assignment!r}: unknown key {path!r}; valid keys here: {', '.join(node)}"
        )
    node[keys[-1]] = value


def load_config(
    source: str | Path | None = None,
    *,
    preset_name: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    seeds: list[int] | None = None,
) -> Config:
    """Resolve a config from a preset name or a YAML file, then overrides and seeds."""
    if source is not None and preset_name is not None:
        raise ConfigError("give either a config file or --preset, not both")
    # Before the file is read: a missing file may be an override's value, split off.
    stray = str(source) if source is not None and not Path(source).exists() else None
    for assignment in overrides:
        check_assignment(assignment, stray)
    if source is not None:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {str(path)!r} is not valid YAML: {e}") from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {str(path)!r} must hold a mapping at the top level")
        raw.setdefault("name", path.stem)
        base = _build(Config, raw, "config")
    else:
        base = preset(preset_name or "quick")
    d = copy.deepcopy(base.to_dict())
    for assignment in overrides:
        apply_override(d, assignment)
    if seeds is not None:
        d["seeds"] = list(seeds)
    return from_dict(d)


# What a branch may change: what else is trained on a run's tickets, never the tickets.
BRANCH_KEYS = ("experiment.controls", "transfer.datasets", "transfer.settings")


def branch_config(base: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    """The config of a branch of a run of ``base``: ``base`` with ``overrides`` of the
    ``BRANCH_KEYS`` only; any other key would change the tickets themselves."""
    d = copy.deepcopy(base.to_dict())
    for assignment in overrides:
        apply_override(d, assignment)
        key = assignment.split("=", 1)[0].strip()
        if key not in BRANCH_KEYS:
            raise ConfigError(
                f"a branch cannot change {key}: it would change the tickets or what the base "
                f"run's records mean. A branch can set {', '.join(BRANCH_KEYS)}; for anything "
                "else start a new run"
            )
    return from_dict(d)
