"""Experiment configuration: dataclasses, presets, YAML round-trip, validation.

A config is a tree of small dataclasses. ``load_config`` builds one from a preset name or a
YAML file plus ``section.key=value`` overrides, and rejects unknown keys and invalid values
before any work starts.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ticketlab.errors import ConfigError

DATASETS = ("mnist", "fashion_mnist", "cifar10", "maxgroup")
INITS = ("glorot_normal", "pytorch_default", "kaiming_normal")
PRUNE_METHODS = ("layerwise", "global", "random")
OPTIMIZERS = ("adam", "sgd")
CONTROLS = ("reinit", "random_mask", "signed_reinit", "signed_constant", "reshuffle")
DEVICES = ("auto", "cpu", "cuda")
DATA_ORDERS = ("per_round", "fixed")
SUBSET_SAMPLINGS = ("stratified", "legacy")
GROUP_SIZES = ("equal", "uneven")
INPUTS = ("gray28", "native")
OUTPUT_PRUNING = ("separate", "ignore", "pooled")
AUGMENTS = ("none", "crop_flip")
BN_INITS = ("ones", "uniform")

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
}
TRAIN_NEUTRAL: dict[str, Any] = {
    "weight_decay": 0.0,
    "milestones": [],
    "gamma": 0.1,
    "warmup_steps": 0,
    "augment": "none",
    "crop_pad": 4,
}


@dataclass
class DataConfig:
    dataset: str = "mnist"
    val_size: int = 5000
    split_seed: int = 0
    train_subset: int | None = None
    test_subset: int | None = None
    subset_sampling: str = "stratified"
    input: str = "gray28"  # gray28: 28x28 grayscale (CIFAR-10 converted); native: as stored

    def validate(self) -> None:
        check_dataset_name("data.dataset", self.dataset)
        _choice("data.input", self.input, INPUTS)
        _choice("data.subset_sampling", self.subset_sampling, SUBSET_SAMPLINGS)
        _at_least("data.val_size", self.val_size, 1)
        if self.train_subset is not None:
            _at_least("data.train_subset", self.train_subset, 1)
        if self.test_subset is not None:
            _at_least("data.test_subset", self.test_subset, 1)


@dataclass
class ModelConfig:
    """``name``: a registered model (``lenet_300_100``, ``lenet5``, ``conv2/4/6``,
    ``resnetD``, ``vggD``; see ``models/registry.py``) or an import path
    ``package.module:factory`` to a function returning a ``torch.nn.Module``. ``hidden`` is
    the MLP's hidden sizes, ``width`` a ResNet's width multiplier."""

    name: str = "lenet_300_100"
    hidden: list[int] = field(default_factory=lambda: [300, 100])
    width: int = 1
    init: str = "pytorch_default"
    bn_init: str = "ones"  # batch-norm scales: ones (PyTorch) or uniform U(0, 1) (OpenLTH)

    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(
                f"model.name must be a model name or an import path, got {self.name!r}"
            )
        _at_least("model.width", self.width, 1)
        _choice("model.bn_init", self.bn_init, BN_INITS)
        if not self.hidden:
            raise ConfigError("model.hidden must list at least one hidden layer size")
        for i, h in enumerate(self.hidden):
            _at_least(f"model.hidden[{i}]", h, 1)
        _choice("model.init", self.init, INITS)


@dataclass
class PruneConfig:
    """Pruning schedule. Give either ``p_final`` (the fraction of weights left after
    ``rounds`` rounds; each round keeps ``p_final ** (1/rounds)`` of each layer's survivors)
    or a fixed per-round ``rate`` (fraction of survivors removed). ``output_rate`` lets the
    output layer use its own per-round rate, as in Frankle & Carbin."""

    method: str = "layerwise"
    p_final: float | None = 0.01
    rounds: int = 20
    rate: float | None = None
    output_rate: float | None = None
    conv_rate: float | None = None  # convolutional layers' per-round rate (default: rate)
    output: str = "separate"  # the output layer: its own rate / left dense / pooled (global)
    ignore: list[str] = field(default_factory=list)  # more weight tensors left dense

    def validate(self) -> None:
        _choice("prune.method", self.method, PRUNE_METHODS)
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise ConfigError(f"prune.rounds must be an integer >= 1, got {self.rounds!r}")
        if (self.p_final is None) == (self.rate is None):
            raise ConfigError(
                "give exactly one of prune.p_final (final fraction of weights) and "
                f"prune.rate (fraction removed per round); got p_final={self.p_final!r}, "
                f"rate={self.rate!r}"
            )
        if self.p_final is not None and not 0 < self.p_final <= 1:
            raise ConfigError(f"prune.p_final must be in (0, 1], got {self.p_final!r}")
        _choice("prune.output", self.output, OUTPUT_PRUNING)
        if self.output != "separate" and self.output_rate is not None:
            raise ConfigError(
                f"prune.output_rate applies to prune.output: separate, not {self.output}"
            )
        for key in ("rate", "output_rate", "conv_rate"):
            value = getattr(self, key)
            if value is not None and not 0 <= value < 1:
                raise ConfigError(f"prune.{key} must be in [0, 1), got {value!r}")

    def round_rate(self) -> float:
        """Fraction of each layer's surviving weights removed per round."""
        if self.rate is not None:
            return self.rate
        assert self.p_final is not None
        return 1.0 - self.p_final ** (1.0 / self.rounds)


@dataclass
class TrainConfig:
    """One training: optimiser, length and evaluation cadence. Length is ``steps`` when
    set, else ``epochs`` passes over the training split (last batch may be partial)."""

    optimizer: str = "adam"
    lr: float = 1.2e-3
    momentum: float = 0.0
    batch_size: int = 128
    epochs: int = 10
    steps: int | None = None
    eval_every: int = 100
    weight_decay: float = 0.0
    milestones: list[float] = field(default_factory=list)  # epochs at which lr *= gamma
    gamma: float = 0.1
    warmup_steps: int = 0  # linear learning-rate warmup from lr/warmup_steps
    augment: str = "none"  # crop_flip: random crop (zero padding crop_pad) + horizontal flip
    crop_pad: int = 4

    def validate(self, where: str = "train") -> None:
        _choice(f"{where}.optimizer", self.optimizer, OPTIMIZERS)
        if not self.lr > 0:
            raise ConfigError(f"{where}.lr must be > 0, got {self.lr!r}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"{where}.momentum must be in [0, 1), got {self.momentum!r}")
        _at_least(f"{where}.batch_size", self.batch_size, 1)
        _at_least(f"{where}.epochs", self.epochs, 1)
        if self.steps is not None:
            _at_least(f"{where}.steps", self.steps, 1)
        _at_least(f"{where}.eval_every", self.eval_every, 1)
        _choice(f"{where}.augment", self.augment, AUGMENTS)
        _at_least(f"{where}.warmup_steps", self.warmup_steps, 0)
        _at_least(f"{where}.crop_pad", self.crop_pad, 0)
        if not isinstance(self.weight_decay, (int, float)) or self.weight_decay < 0:
            raise ConfigError(f"{where}.weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"{where}.gamma must be in (0, 1], got {self.gamma!r}")
        if list(self.milestones) != sorted(self.milestones) or any(m <= 0 for m in self.milestones):
            raise ConfigError(
                f"{where}.milestones must be increasing epochs > 0, got {self.milestones!r}"
            )
        self.milestones = [float(m) for m in self.milestones]  # one identity for 3 and 3.0

    def label(self) -> str:
        """Short name of the setting, e.g. ``adam lr=0.0012, 10 epochs``."""
        label = f"{self.optimizer} lr={self.lr:g}"
        if self.optimizer == "sgd" and self.momentum:
            label += f" momentum={self.momentum:g}"
        if self.weight_decay:
            label += f" wd={self.weight_decay:g}"
        length = f"{self.steps} steps" if self.steps is not None else f"{self.epochs} epochs"
        extras = []
        if self.milestones:
            extras.append(
                f"x{self.gamma:g} at epochs {'/'.join(f'{m:g}' for m in self.milestones)}"
            )
        if self.warmup_steps:
            extras.append(f"warmup {self.warmup_steps}")
        if self.augment != "none":
            extras.append(self.augment)
        return ", ".join([label, length, *extras])

    def total_steps(self, n_train: int) -> int:
        if self.steps is not None:
            return self.steps
        return self.epochs * -(-n_train // self.batch_size)


def display_setting(label: str) -> str:
    """A setting's label as a reader writes it ("1 epoch", not "1 epochs"). The label itself
    stays as recorded: it is part of every training's id."""
    return re.sub(r"\b1 (epoch|step)s\b", r"1 \1", label)


@dataclass
class ExperimentConfig:
    """What each IMP round trains besides the winning ticket, and in what data order."""

    controls: list[str] = field(default_factory=lambda: ["reinit"])
    rewind_step: int = 0
    data_order: str = "per_round"

    def validate(self) -> None:
        _choice("experiment.data_order", self.data_order, DATA_ORDERS)
        for i, c in enumerate(self.controls):
            _choice(f"experiment.controls[{i}]", c, CONTROLS)
        if len(set(self.controls)) != len(self.controls):
            raise ConfigError(f"experiment.controls lists a control twice: {self.controls}")
        if (
            isinstance(self.rewind_step, bool)
            or not isinstance(self.rewind_step, int)
            or (self.rewind_step < 0)
        ):
            raise ConfigError(f"experiment.rewind_step must be >= 0, got {self.rewind_step!r}")


@dataclass
class TransferConfig:
    """Step 6 of the reference: before each pruning round, the round's ticket (same initial
    weights, current mask) and its controls are also trained on each of ``datasets``, with
    each optimiser setting in ``settings`` (null: the same setting as ``train``)."""

    datasets: list[str] = field(default_factory=list)
    settings: list[TrainConfig] | None = None

    def validate(self, main: str) -> None:
        for i, name in enumerate(self.datasets):
            check_dataset_name(f"transfer.datasets[{i}]", name)
            if name == main:
                raise ConfigError(
                    f"transfer.datasets[{i}] is {name!r}, the dataset tickets are found on; "
                    "list only other datasets"
                )
        if len(set(self.datasets)) != len(self.datasets):
            raise ConfigError(f"transfer.datasets lists a dataset twice: {self.datasets}")
        if self.settings is not None:
            if not self.settings:
                raise ConfigError("transfer.settings must list at least one setting (or null)")
            for i, s in enumerate(self.settings):
                s.validate(f"transfer.settings[{i}]")
            labels = [s.label() for s in self.settings]
            if len(set(labels)) != len(labels):
                raise ConfigError(f"transfer.settings has two settings named alike: {labels}")


@dataclass
class MaxGroupConfig:
    """The synthetic MaxGroup dataset (see ``data/maxgroup.py``)."""

    train_size: int = 60_000
    test_size: int = 10_000
    groups: int = 10
    seed: int = 0
    group_size: str = "equal"

    def validate(self) -> None:
        _choice("maxgroup.group_size", self.group_size, GROUP_SIZES)
        _at_least("maxgroup.train_size", self.train_size, 2)
        _at_least("maxgroup.test_size", self.test_size, 1)
        _at_least("maxgroup.groups", self.groups, 2)
        if self.groups > 784:
            raise ConfigError(f"maxgroup.groups must be at most 784, got {self.groups}")
        _at_least("maxgroup.seed", self.seed, 0)


@dataclass
class Config:
    name: str = "custom"
    protocol: int = PROTOCOL
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    maxgroup: MaxGroupConfig = field(default_factory=MaxGroupConfig)

    def transfer_settings(self) -> list[TrainConfig]:
        return self.transfer.settings if self.transfer.settings is not None else [self.train]

    def validate(self) -> Config:
        if self.protocol not in range(1, PROTOCOL + 1):
            raise ConfigError(
                f"protocol must be an integer from 1 to {PROTOCOL}, got {self.protocol!r}"
            )
        if not self.seeds:
            raise ConfigError("seeds must list at least one seed")
        for i, s in enumerate(self.seeds):
            _at_least(f"seeds[{i}]", s, 0)
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds lists a seed twice: {self.seeds}")
        _choice("device", self.device, DEVICES)
        self.data.validate()
        self.model.validate()
        self.prune.validate()
        self.train.validate()
        self.experiment.validate()
        self.transfer.validate(self.data.dataset)
        self.maxgroup.validate()
        if self.train.steps is not None and self.experiment.rewind_step >= self.train.steps:
            raise ConfigError(
                f"experiment.rewind_step ({self.experiment.rewind_step}) must be smaller than "
                f"train.steps ({self.train.steps})"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def datasets(self) -> list[str]:
        """The main dataset, then every transfer dataset."""
        return [self.data.dataset, *self.transfer.datasets]

    def identity(self) -> dict[str, Any]:
        """Everything that determines the numbers: the config less its name, its protocol
        and the protocol-2 keys that are at their old value or unused."""
        d = self.to_dict()
        d.pop("name")
        d.pop("protocol")
        unused = {
            ("data", "subset_sampling"): self.data.train_subset is None
            and self.data.test_subset is None,
            ("maxgroup", "group_size"): "maxgroup" not in self.datasets(),
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

    def identity_but_seeds(self) -> dict[str, Any]:
        """``identity()`` without the seeds: what a run that gains seeds, or a branch that
        follows its run's seeds, keeps."""
        d = self.identity()
        del d["seeds"]
        return d

    def identity_hash(self) -> str:
        """Short hash of ``identity()``."""
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:8]


TRANSFER_DATASETS = ["fashion_mnist", "cifar10", "maxgroup"]


def _preset_seed() -> Config:
    c = Config(name="seed")
    c.train.eval_every = 215
    c.transfer.datasets = list(TRANSFER_DATASETS)
    return c


def _preset_seed_high_lr() -> Config:
    c = _preset_seed()
    c.name = "seed-high-lr"
    c.transfer.settings = [TrainConfig(optimizer="sgd", lr=1e-2, epochs=3, eval_every=215)]
    return c


def _preset_quick() -> Config:
    c = Config(name="quick")
    c.seeds = [0, 1, 2]  # the fewest with a verdict (report.MIN_SEEDS), trained as one cohort
    c.data.train_subset = 20000
    c.data.val_size = 2000
    c.prune.p_final = 0.03
    c.prune.rounds = 8
    c.train.epochs = 3
    c.train.eval_every = 50
    c.transfer.datasets = list(TRANSFER_DATASETS)
    return c


def _preset_frankle_carbin() -> Config:
    c = Config(name="frankle-carbin")
    c.model.init = "glorot_normal"
    c.prune.p_final = None
    c.prune.rate = 0.2
    c.prune.output_rate = 0.1
    c.prune.rounds = 20
    c.train.batch_size = 60
    c.train.steps = 50_000
    c.train.eval_every = 100
    return c


def _preset_frankle_carbin_conv(n: int) -> Config:
    """Frankle & Carbin (2019), Figure 2: Conv-2/4/6 on CIFAR-10, Adam, batch 60, Gaussian
    Glorot init; conv layers pruned 10% a round (Conv-6: 15%), FC layers 20%, output 10%."""
    lr, steps, conv_rate = {
        2: (2e-4, 20_000, 0.1),
        4: (3e-4, 25_000, 0.1),
        6: (3e-4, 30_000, 0.15),
    }[n]
    c = Config(name=f"frankle-carbin-conv{n}")
    c.data.dataset = "cifar10"
    c.data.input = "native"
    c.model.name = f"conv{n}"
    c.model.init = "glorot_normal"
    c.prune.p_final = None
    c.prune.rate = 0.2
    c.prune.conv_rate = conv_rate
    c.prune.output_rate = 0.1
    c.prune.rounds = 20
    c.train.lr = lr
    c.train.batch_size = 60
    c.train.steps = steps
    c.train.eval_every = 500
    return c


def _preset_openlth(model: str) -> Config:
    """OpenLTH's ``cifar_resnet_20`` / ``cifar_vgg_16`` defaults: SGD lr 0.1, momentum 0.9,
    weight decay 1e-4, batch 128, 160 epochs with lr x0.1 at epochs 80 and 120, Kaiming-normal
    init with U(0, 1) batch-norm scales, random crop and flip, global magnitude pruning of 20%
    a round (ResNet: the output layer pooled with the rest; VGG: left dense)."""
    c = Config(name=f"openlth-{model}")
    c.data.dataset = "cifar10"
    c.data.input = "native"
    c.model.name = model
    c.model.init = "kaiming_normal"
    c.model.bn_init = "uniform"
    c.prune.method = "global"
    c.prune.p_final = None
    c.prune.rate = 0.2
    c.prune.rounds = 20
    c.prune.output = "pooled" if model.startswith("resnet") else "ignore"
    c.train = TrainConfig(
        optimizer="sgd",
        lr=0.1,
        momentum=0.9,
        weight_decay=1e-4,
        batch_size=128,
        epochs=160,
        milestones=[80, 120],
        gamma=0.1,
        augment="crop_flip",
        eval_every=352,  # one epoch of the 45,000-image training split
    )
    return c


def _preset_quick_conv() -> Config:
    """A conv pipeline end to end in minutes on 2 CPU cores: LeNet-5 on CIFAR-10 as stored
    (3x32x32), SGD with momentum, weight decay, a step schedule and crop-and-flip
    augmentation, global pruning with the output layer pooled, 3 seeds."""
    c = Config(name="quick-conv")
    c.seeds = [0, 1, 2]
    c.data.dataset = "cifar10"
    c.data.input = "native"
    c.data.train_subset = 10_000
    c.data.val_size = 2000
    c.data.test_subset = 2000
    c.model.name = "lenet5"
    c.model.init = "kaiming_normal"
    c.prune.method = "global"
    c.prune.output = "pooled"
    c.prune.p_final = 0.1
    c.prune.rounds = 4
    c.train = TrainConfig(
        optimizer="sgd",
        lr=0.02,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=128,
        epochs=4,
        milestones=[3],
        augment="crop_flip",
        eval_every=40,
    )
    return c


PRESETS = {
    "quick": _preset_quick,
    "seed": _preset_seed,
    "seed-high-lr": _preset_seed_high_lr,
    "frankle-carbin": _preset_frankle_carbin,
    "quick-conv": _preset_quick_conv,
    "frankle-carbin-conv2": lambda: _preset_frankle_carbin_conv(2),
    "frankle-carbin-conv4": lambda: _preset_frankle_carbin_conv(4),
    "frankle-carbin-conv6": lambda: _preset_frankle_carbin_conv(6),
    "openlth-resnet20": lambda: _preset_openlth("resnet20"),
    "openlth-vgg16": lambda: _preset_openlth("vgg16"),
}


def preset(name: str) -> Config:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]().validate()


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
    if dataclasses.is_dataclass(tp):
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
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r}")


def apply_override(d: dict[str, Any], assignment: str) -> None:
    """Apply one ``section.key=value`` override (value parsed as YAML) to a config dict."""
    if "=" not in assignment:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. train.lr=3e-3), got {assignment!r}")
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


def check_dataset_name(where: str, name: str) -> None:
    if name in DATASETS:
        return
    if name.startswith("imagefolder:") and len(name) > len("imagefolder:"):
        return
    raise ConfigError(
        f"{where} must be one of {', '.join(DATASETS)} or imagefolder:PATH; got {name!r}"
    )


def _choice(where: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ConfigError(f"{where} must be one of {', '.join(options)}; got {value!r}")


def _at_least(where: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{where} must be an integer >= {low}, got {value!r}")
