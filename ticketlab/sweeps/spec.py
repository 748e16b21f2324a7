"""A sweep file and the trials it makes.

A sweep is a base config (a preset or a config file, plus ``set`` overrides), a grid of
overrides whose every combination is a grid point, seeds, and resources per trial. With
``seeds_per_trial: all`` each grid point is one run with all the seeds in one cohort; with
``1`` each (grid point, seed) is a run of its own. Every trial is an ordinary run directory
under ``SWEEP_DIR/trials/``, named from its config hash, so every other command works on it.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ticketlab.config import Config, apply_override, from_dict, load_config
from ticketlab.errors import ConfigError

KEYS = ("preset", "config", "set", "grid", "seeds", "resources", "seeds_per_trial")


@dataclass(frozen=True)
class Trial:
    """One run of a sweep: its grid point (key -> value), seeds and resolved config."""

    point: dict[str, Any]
    config: Config
    dirname: str

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.point.items()) or "base"


@dataclass
class Sweep:
    base: Config  # the preset or config file with ``set`` applied, seeds as in the file
    grid: dict[str, list[Any]]
    seeds: list[int]
    cpus: float = 1.0
    gpus: float = 0.0
    seeds_per_trial: str = "all"
    source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> Sweep:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"sweep file {path} not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"sweep file {path} is not valid YAML: {e}") from None
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: Any, path: Path | None = None) -> Sweep:
        where = f"sweep file {path}" if path else "sweep"
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a mapping of keys to values")
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {KEYS}")
        if ("preset" in data) == ("config" in data):
            raise ConfigError(f"{where}: give exactly one of preset and config")
        sets = data.get("set") or {}
        if not isinstance(sets, dict):
            raise ConfigError(f"{where}: set must map keys to values, e.g. {{train.epochs: 1}}")
        overrides = [_assignment(k, v) for k, v in sets.items()]
        config_path = data.get("config")
        if config_path is not None and path is not None:
            config_path = (path.parent / config_path).resolve()
        base = load_config(config_path, preset_name=data.get("preset"), overrides=overrides)
        grid = data.get("grid") or {}
        if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
            raise ConfigError(f"{where}: grid must map each key to a non-empty list of values")
        seeds = data.get("seeds", base.seeds)
        if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
            raise ConfigError(f"{where}: seeds must be a list of integers, got {seeds!r}")
        res = data.get("resources") or {}
        if not isinstance(res, dict) or set(res) - {"cpus", "gpus"}:
            raise ConfigError(f"{where}: resources takes cpus and gpus, got {res!r}")
        cpus, gpus = float(res.get("cpus", 1)), float(res.get("gpus", 0))
        if cpus <= 0 or gpus < 0:
            raise ConfigError(f"{where}: resources need cpus > 0 and gpus >= 0, got {res!r}")
        per = data.get("seeds_per_trial", "all")
        if per not in ("all", 1):
            raise ConfigError(f"{where}: seeds_per_trial must be all or 1, got {per!r}")
        sweep = cls(base, grid, list(seeds), cpus, gpus, str(per), data)
        sweep.trials()  # every grid point resolves to a valid config, or the error says which
        return sweep

    def base_identity(self) -> str:
        """What every trial shares: the base config less its seeds, hashed. A sweep
        directory accepts only sweeps with this base (more grid values or seeds are fine)."""
        blob = json.dumps(self.base.identity_but_seeds(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:8]

    def trials(self) -> list[Trial]:
        keys = list(self.grid)
        out = []
        for values in itertools.product(*(self.grid[k] for k in keys)):
            point = dict(zip(keys, values, strict=True))
            d = copy.deepcopy(self.base.to_dict())
            for k, v in point.items():
                apply_override(d, _assignment(k, v))
            per_seed = [[s] for s in self.seeds]
            seed_sets = [self.seeds] if self.seeds_per_trial == "all" else per_seed
            for seeds in seed_sets:
                try:
                    cfg = from_dict(d | {"seeds": seeds})
                except ConfigError as e:
                    raise ConfigError(f"grid point {point}: {e}") from None
                # Named without its seeds when all seeds share the run, so that a sweep
                # extended by seeds adds them to the same run directory.
                all_seeds = self.seeds_per_trial == "all"
                key = cfg.identity_but_seeds() if all_seeds else cfg.identity()
                digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
                name = f"{cfg.name}-{digest[:8]}"
                out.append(Trial(point, cfg, name))
        return out


def _assignment(key: str, value: Any) -> str:
    """``key=value`` with the value written as YAML, as ``--set`` reads it."""
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return f"{key}={text.removesuffix('...').strip()}"
