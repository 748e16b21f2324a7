"""How configs of older protocols keep their meaning and their identity hash.

Protocol 2 added keys whose old value reproduces what a config meant before (``LEGACY``);
keys added after it have a default equal to the old behaviour (``NEUTRAL``). Both are left
out of a config's identity when at that value, so run directories made before a key existed
keep their hash and resume.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ticketlab.config.schema import Config

# Protocol 2 added these keys. The value beside each reproduces what a config meant before
# (protocol 1): a run directory whose config.yaml has no ``protocol`` resolves its missing
# keys to these, and a key at this value is left out of the identity hash, so configs that
# do not use the new behaviour keep the hash (and default run directory) they had.
PROTOCOL = 2
LEGACY: dict[tuple[str, str], str] = {
    ("experiment", "data_order"): "fixed",
    ("data", "subset_sampling"): "legacy",
    ("maxgroup", "group_size"): "uneven",
}
# Keys added after protocol 2 whose default is what a config meant before them: at that
# value they are left out of the identity hash (in ``train`` and in every transfer setting),
# so older run directories keep their hash and resume.
NEUTRAL: dict[tuple[str, str], Any] = {
    ("data", "input"): "gray28",
    ("model", "name"): "lenet_300_100",
    ("model", "width"): 1,
    ("model", "bn_init"): "ones",
    ("prune", "output"): "separate",
    ("prune", "ignore"): [],
    ("prune", "conv_rate"): None,
    ("prune", "criterion"): "large_final",
    ("experiment", "mask_sources"): [],
    ("experiment", "source_scopes"): ["layerwise"],
    ("experiment", "source_checks"): ["random_mask", "reinit", "inverted"],
    ("experiment", "source_min_density"): 0.001,
    ("experiment", "source_batch_per_class"): 10,
    ("experiment", "earlybird_eps"): 0.08,
    ("experiment", "earlybird_window"): 5,
    ("experiment", "score_lr"): 1.0,
    ("experiment", "score_epochs"): 10,
}
TRAIN_NEUTRAL: dict[str, Any] = {
    "weight_decay": 0.0,
    "milestones": [],
    "gamma": 0.1,
    "warmup_steps": 0,
    "augment": "none",
    "crop_pad": 4,
    "precision": "fp32",
    "bn_l1": 0.0,
}


def with_protocol(data: Any) -> Any:
    """A config mapping read from a run directory. One without ``protocol`` was written
    before protocol 2: its missing keys take their old values (``LEGACY``), so the run
    resumes with the behaviour it started with."""
    if not isinstance(data, dict) or "protocol" in data:
        return data
    out = copy.deepcopy(data)
    out["protocol"] = 1
    for (section, key), old in LEGACY.items():
        if isinstance(out.setdefault(section, {}), dict):
            out[section].setdefault(key, old)
    return out


def identity(config: Config) -> dict[str, Any]:
    """Everything that determines the numbers: the config less its name, its protocol and
    the keys that are at their old value or unused."""
    d = config.to_dict()
    d.pop("name")
    d.pop("protocol")
    d["experiment"].pop("save_weights")  # what is kept, not what is computed
    unused = {
        ("data", "subset_sampling"): config.data.train_subset is None
        and config.data.test_subset is None,
        ("maxgroup", "group_size"): "maxgroup" not in config.datasets(),
    }
    for (section, key), old in LEGACY.items():
        if d[section][key] == old or unused.get((section, key), False):
            del d[section][key]
    for (section, key), default in NEUTRAL.items():
        if d[section][key] == default:
            del d[section][key]
    settings = [d["train"], *(d["transfer"]["settings"] or [])]
    for setting in settings:
        for key, default in TRAIN_NEUTRAL.items():
            if setting[key] == default:
                del setting[key]
        if not setting.get("milestones"):
            setting.pop("gamma", None)
        if setting.get("augment", "none") == "none":
            setting.pop("crop_pad", None)
    return d
