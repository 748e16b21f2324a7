"""The config schema: a tree of small dataclasses, each key with its type, default and
meaning (``dataclasses.fields(...)[i].metadata["doc"]``), and the checks of each section.

The config reference in the docs is generated from this module, so a key without a
description fails the docs test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from ticketlab.config.compat import PROTOCOL, identity
from ticketlab.device import DEVICES
from ticketlab.errors import ConfigError

DATASETS = ("mnist", "fashion_mnist", "cifar10", "maxgroup")
INITS = ("glorot_normal", "pytorch_default", "kaiming_normal")
PRUNE_METHODS = ("layerwise", "global", "random")
MASK_SOURCES = ("magnitude", "snip", "grasp", "synflow", "random")
# IMP whose rounds train less to find their masks (early-bird tickets, PrAC, both).
IMP_SOURCES = ("earlybird", "prac", "prac_earlybird")
# Masks learned on frozen weights (edge-popup, biprop) at each IMP level's counts.
LEARNED_SOURCES = ("edgepopup", "biprop")
SOURCE_SCOPES = ("layerwise", "global")
SOURCE_CHECKS = ("random_mask", "reinit", "inverted")
PRUNE_CRITERIA = (
    "large_final",
    "magnitude_increase",
    "movement",
    "large_init",
    "large_final_same_sign",
)
OPTIMIZERS = ("adam", "sgd")
CONTROLS = (
    "reinit",
    "random_mask",
    "signed_reinit",
    "signed_constant",
    "reshuffle",
    "signed_reshuffle",
    "scaled_reinit",
    "inverted",
)
DATA_ORDERS = ("per_round", "fixed")
PRECISIONS = ("fp32", "bf16")
SUBSET_SAMPLINGS = ("stratified", "legacy")
GROUP_SIZES = ("equal", "uneven")
INPUTS = ("gray28", "native")
OUTPUT_PRUNING = ("separate", "ignore", "pooled")
AUGMENTS = ("none", "crop_flip")
BN_INITS = ("ones", "uniform")


def _key(*, doc: str, default: Any = None, factory: Callable[[], Any] | None = None) -> Any:
    """A config key: its default (or a factory for a mutable one) and its meaning."""
    if factory is not None:
        return field(default_factory=factory, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass
class DataConfig:
    dataset: str = _key(
        default="mnist",
        doc=(
            "the dataset tickets are found on: `mnist`, `fashion_mnist`, `cifar10`, `maxgroup` or"
            " `imagefolder:PATH`"
        ),
    )
    val_size: int = _key(
        default=5000,
        doc=(
            "validation examples held out of each dataset's training images (early stopping reads"
            " them)"
        ),
    )
    split_seed: int = _key(default=0, doc="seed of the train/validation split")
    train_subset: int | None = _key(
        default=None,
        doc="use only this many training examples (after the split); null: all",
    )
    test_subset: int | None = _key(default=None, doc="use only this many test examples; null: all")
    subset_sampling: str = _key(
        default="stratified",
        doc=(
            "how `train_subset` and `test_subset` are drawn: `stratified` (seeded, every class in"
            " proportion) or `legacy` (protocol 1: a seeded random training subset, the first N "
            "test examples)"
        ),
    )
    input: str = _key(
        default="gray28",
        doc=(
            "`gray28` (every dataset as 28x28 grayscale, colour converted) or `native` (colour "
            "images as stored, e.g. CIFAR-10 3x32x32)"
        ),
    )

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
    the MLP's hidden sizes, ``width`` a ResNet's or Conv-N's width multiplier."""

    name: str = _key(
        default="lenet_300_100",
        doc=(
            "the architecture: a registered model (`lenet_300_100`, `lenet5`, "
            "`conv2`/`conv4`/`conv6`, `resnetD`, `vggD`) or an import path "
            "`package.module:factory` to a function returning a `torch.nn.Module`"
        ),
    )
    hidden: list[int] = _key(factory=lambda: [300, 100], doc="the MLP's hidden layer sizes")
    width: int = _key(
        default=1,
        doc=(
            "a width multiplier: a ResNet's first stage has 16 x width channels; Conv-N's "
            "channels and hidden units are all times width"
        ),
    )
    init: str = _key(
        default="pytorch_default",
        doc=(
            "`pytorch_default` (the module's own; for the MLP U(±1/sqrt(fan_in)) weights and "
            "biases), `glorot_normal` (N(0, 2/(fan_in+fan_out)) Conv and Linear weights, zero "
            "biases) or `kaiming_normal` (N(0, 2/fan_in) Conv and Linear weights)"
        ),
    )
    bn_init: str = _key(
        default="ones",
        doc="batch-norm scales: `ones` (PyTorch) or `uniform` (U(0, 1), as OpenLTH)",
    )

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

    method: str = _key(
        default="layerwise",
        doc=(
            "`layerwise` magnitude, `global` magnitude (one threshold over the pooled layers) or "
            "`random`"
        ),
    )
    criterion: str = _key(
        default="large_final",
        doc=(
            "which weights IMP keeps (Zhou et al. 2019): `large_final` |w_f|, "
            "`magnitude_increase` |w_f|-|w_i|, `movement` |w_f-w_i|, `large_init` |w_i|, "
            "`large_final_same_sign` |w_f| where the sign did not flip (else 0); w_i: the "
            "weights the round started from. Not used by `random`"
        ),
    )
    p_final: float | None = _key(
        default=0.01,
        doc=(
            "fraction of weights left after `rounds` rounds: each round keeps "
            "`p_final^(1/rounds)` of each layer's survivors (give this or `rate`)"
        ),
    )
    rounds: int = _key(
        default=20,
        doc=(
            "pruning rounds (round 0 trains the dense network, so `rounds + 1` trainings per curve)"
        ),
    )
    rate: float | None = _key(
        default=None,
        doc="instead of `p_final`: the fraction of survivors removed per round",
    )
    output_rate: float | None = _key(
        default=None,
        doc="the output layer's own per-round rate (Frankle & Carbin: 0.1); null: the common rate",
    )
    conv_rate: float | None = _key(
        default=None,
        doc=(
            "convolutional layers' per-round rate under `layerwise` (Frankle & Carbin: 0.1 or "
            "0.15); null: the common rate"
        ),
    )
    output: str = _key(
        default="separate",
        doc=(
            "the output layer: `separate` (its own rate, `output_rate` or the common one; under "
            "`global` pruned on its own), `ignore` (left dense) or `pooled` (with the rest under "
            "`global`)"
        ),
    )
    ignore: list[str] = _key(
        factory=list,
        doc="more weight tensors to leave dense, by name (e.g. `[conv.weight]`)",
    )

    def validate(self) -> None:
        _choice("prune.method", self.method, PRUNE_METHODS)
        _choice("prune.criterion", self.criterion, PRUNE_CRITERIA)
        if self.method == "random" and self.criterion != "large_final":
            raise ConfigError(
                f"prune.criterion {self.criterion} does nothing with prune.method random (the "
                "random baseline scores no weights): use layerwise or global"
            )
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

    optimizer: str = _key(default="adam", doc="`adam` or `sgd`")
    lr: float = _key(default=1.2e-3, doc="learning rate")
    momentum: float = _key(default=0.0, doc="SGD momentum")
    batch_size: int = _key(default=128, doc="examples per step")
    epochs: int = _key(
        default=10,
        doc=(
            "passes over the training split (the last batch of an epoch may be partial); unused "
            "when `steps` is set"
        ),
    )
    steps: int | None = _key(
        default=None,
        doc="train for exactly this many steps instead of `epochs`",
    )
    eval_every: int = _key(
        default=100,
        doc="evaluate validation and test every this many steps (and at step 0 and the end)",
    )
    weight_decay: float = _key(
        default=0.0,
        doc=(
            "L2 weight decay (`torch.optim`'s; it never revives a pruned weight: its gradient is "
            "masked and its value is zero)"
        ),
    )
    bn_l1: float = _key(
        default=0.0,
        doc=(
            "L1 penalty on batch-norm scales: `bn_l1 x sign(gamma)` added to each gamma's "
            "gradient (network slimming's term; You et al. 2020 train with 1e-4 before drawing "
            "channel early-bird tickets); nets with batch norm only"
        ),
    )
    milestones: list[float] = _key(
        factory=list,
        doc=(
            "epochs at which the learning rate is multiplied by `gamma`; each must fall inside "
            "training"
        ),
    )
    gamma: float = _key(default=0.1, doc="the learning-rate factor at each milestone")
    warmup_steps: int = _key(default=0, doc="linear learning-rate warm-up over this many steps")
    augment: str = _key(
        default="none",
        doc=(
            "`none` or `crop_flip`: a random crop with `crop_pad` zero padding and a random "
            "horizontal flip, per example and member (image models)"
        ),
    )
    crop_pad: int = _key(default=4, doc="padding of the random crop, in pixels")
    precision: str = _key(
        default="fp32",
        doc=(
            "`fp32`, or `bf16`: the dense matrix products (training and evaluation) under "
            "bfloat16 autocast, weights and optimizer state in fp32, block-sparse products in "
            "fp32; only where the processor has bfloat16 instructions (see Performance)"
        ),
    )

    def validate(self, where: str = "train") -> None:
        _choice(f"{where}.optimizer", self.optimizer, OPTIMIZERS)
        _choice(f"{where}.precision", self.precision, PRECISIONS)
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
        if not isinstance(self.bn_l1, (int, float)) or self.bn_l1 < 0:
            raise ConfigError(f"{where}.bn_l1 must be >= 0, got {self.bn_l1!r}")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"{where}.gamma must be in (0, 1], got {self.gamma!r}")
        if list(self.milestones) != sorted(self.milestones) or any(m <= 0 for m in self.milestones):
            raise ConfigError(
                f"{where}.milestones must be increasing epochs > 0, got {self.milestones!r}"
            )
        if self.steps is None and self.milestones and self.milestones[-1] >= self.epochs:
            raise ConfigError(
                f"{where}.milestones has epoch {self.milestones[-1]:g}, at or past the end of "
                f"training ({self.epochs} epoch{'s' if self.epochs != 1 else ''}): it would "
                f"never apply; give milestones below {where}.epochs"
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
        if self.precision != "fp32":
            extras.append(self.precision)
        if self.bn_l1:
            extras.append(f"bn-l1 {self.bn_l1:g}")
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

    controls: list[str] = _key(
        factory=lambda: ["reinit"],
        doc=(
            "controls trained beside each ticket: `reinit`, `random_mask`, `signed_reinit`, "
            "`signed_constant`, `reshuffle`, `signed_reshuffle`, `scaled_reinit`, `inverted` "
            "(see Controls)"
        ),
    )
    rewind_step: int = _key(
        default=0,
        doc=(
            "late resetting: tickets restart from the weights after this many steps of round 0 "
            "(0: the original init)"
        ),
    )
    data_order: str = _key(
        default="per_round",
        doc=(
            "`per_round`: each round draws a fresh data order from (seed, round); `fixed` "
            "(protocol 1): every round replays one order per seed. Ticket and controls of a round"
            " share the order either way"
        ),
    )

    mask_sources: list[str] = _key(
        factory=list,
        doc=(
            "mask sources trained beside IMP at matched densities (see Mask sources): "
            "`magnitude`, `snip`, `grasp`, `synflow`, `random`, or a user's by import path "
            "`package.module:Source`; each prunes the seed's initial weights to every IMP "
            "level's per-layer counts (extended down to `source_min_density`) and trains them. "
            "`earlybird`, `prac` and `prac_earlybird` run IMP's schedule with shorter rounds "
            "(see Cheaper tickets); `edgepopup` and `biprop` learn a mask on the frozen initial "
            "weights at each IMP level (see Learned masks)"
        ),
    )
    source_scopes: list[str] = _key(
        factory=lambda: ["layerwise"],
        doc=(
            "how each mask source meets a level: `layerwise` (IMP's count in every tensor) "
            "and/or `global` (their total over the pooled tensors, the output layer apart "
            "when `prune.output` is `separate`)"
        ),
    )
    source_checks: list[str] = _key(
        factory=lambda: ["random_mask", "reinit", "inverted"],
        doc=(
            "sanity checks trained beside every mask source's ticket: `random_mask` (its "
            "mask shuffled within each tensor), `reinit` (its mask, fresh weights), "
            "`inverted` (the lowest-scoring weights at the same counts)"
        ),
    )
    source_min_density: float = _key(
        default=0.001,
        doc="mask sources continue IMP's schedule past its last round down to this density",
    )
    source_batch_per_class: int = _key(
        default=10,
        doc="scoring data of the sources that use data: this many training images per class",
    )
    earlybird_eps: float = _key(
        default=0.08,
        doc=(
            "early-bird tickets: a round's training stops once its candidate mask has moved by "
            "less than this share of the round's weights at each of `earlybird_window` epochs"
        ),
    )
    earlybird_window: int = _key(
        default=5, doc="early-bird tickets: how many epochs in a row the mask must hold still"
    )
    score_lr: float = _key(
        default=1.0,
        doc=(
            "learned masks: the scores' learning rate (SGD, momentum 0.9, weight decay 5e-4, "
            "cosine schedule, the run's batch size); edge-popup's 0.1 is for conv nets with "
            "batch norm, and learned far slower on LeNet-300-100 (see Learned masks)"
        ),
    )
    score_epochs: int = _key(default=10, doc="learned masks: epochs of score training")
    save_weights: bool = _key(
        default=False,
        doc=(
            "also save every training's final weights (safetensors under `weights/`), for "
            "analyses of trained weights; does not change any number, so not part of the "
            "identity hash"
        ),
    )

    def validate(self) -> None:
        if not isinstance(self.save_weights, bool):
            raise ConfigError(
                f"experiment.save_weights must be true or false, got {self.save_weights!r}"
            )
        _choice("experiment.data_order", self.data_order, DATA_ORDERS)
        for i, name in enumerate(self.mask_sources):
            if name not in MASK_SOURCES + IMP_SOURCES + LEARNED_SOURCES and ":" not in name:
                raise ConfigError(
                    f"experiment.mask_sources[{i}] is {name!r}: choose one of "
                    f"{', '.join(MASK_SOURCES + IMP_SOURCES + LEARNED_SOURCES)}, or an import path "
                    "'package.module:Source'"
                )
        for key, values, allowed in (
            ("mask_sources", self.mask_sources, None),
            ("source_scopes", self.source_scopes, SOURCE_SCOPES),
            ("source_checks", self.source_checks, SOURCE_CHECKS),
        ):
            if allowed is not None:
                for i, v in enumerate(values):
                    _choice(f"experiment.{key}[{i}]", v, allowed)
            if len(set(values)) != len(values):
                raise ConfigError(f"experiment.{key} lists something twice: {values}")
        if self.mask_sources and not self.source_scopes:
            raise ConfigError("experiment.source_scopes must list layerwise and/or global")
        if not 0 < self.source_min_density < 1:
            raise ConfigError(
                f"experiment.source_min_density must lie in (0, 1), got {self.source_min_density!r}"
            )
        _at_least("experiment.source_batch_per_class", self.source_batch_per_class, 1)
        if not 0 < self.earlybird_eps < 1:
            raise ConfigError(
                f"experiment.earlybird_eps must lie in (0, 1), got {self.earlybird_eps!r}"
            )
        _at_least("experiment.earlybird_window", self.earlybird_window, 1)
        if not self.score_lr > 0:
            raise ConfigError(f"experiment.score_lr must be > 0, got {self.score_lr!r}")
        _at_least("experiment.score_epochs", self.score_epochs, 1)
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

    datasets: list[str] = _key(
        factory=list,
        doc=(
            "datasets the round's ticket and controls are also trained on; `data.dataset` itself"
            " only with `settings` other than `train` (the tickets retrained on the dataset they"
            " were found on under another setting)"
        ),
    )
    settings: list[TrainConfig] | None = _key(
        default=None,
        doc=(
            "optimiser settings (each with the keys of `train`) for the transfer trainings; null:"
            " the same as `train`. Give two to run an Adam and a high-lr SGD setting side by side"
        ),
    )

    def validate(self, main: str, trunk: TrainConfig) -> None:
        for i, name in enumerate(self.datasets):
            check_dataset_name(f"transfer.datasets[{i}]", name)
            same = [s for s in self.settings or [trunk] if s.label() == trunk.label()]
            if name == main and same:
                raise ConfigError(
                    f"transfer.datasets[{i}] is {name!r}, the dataset tickets are found on, "
                    f"and a transfer setting is named like train ({trunk.label()}): on "
                    f"{name!r} those would be the run's own trainings. List the main dataset "
                    "only with transfer.settings whose optimiser, learning rate or length "
                    "differ from train's"
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

    train_size: int = _key(
        default=60_000,
        doc="training examples of the synthetic MaxGroup dataset",
    )
    test_size: int = _key(default=10_000, doc="test examples of MaxGroup")
    groups: int = _key(default=10, doc="pixel groups, one class each")
    seed: int = _key(default=0, doc="seed of MaxGroup's pixels and group assignment")
    group_size: str = _key(
        default="equal",
        doc=(
            "`equal`: every group 784 // groups pixels, the rest in no group (balanced classes); "
            "`uneven` (protocol 1): groups of 78 and 79"
        ),
    )

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
    name: str = _key(default="custom", doc="label of the run (not part of its identity hash)")
    protocol: int = _key(
        default=PROTOCOL,
        doc=(
            "which defaults the config was written against (see Protocols); not part of the "
            "identity hash"
        ),
    )
    seeds: list[int] = _key(
        factory=lambda: [0],
        doc="replicate seeds; all seeds of a round train together as one cohort",
    )
    device: str = _key(
        default="auto",
        doc="`auto` (CUDA when available, else CPU), `cpu` or `cuda`",
    )
    data: DataConfig = _key(
        factory=DataConfig,
        doc="the dataset tickets are found on, and how every dataset is split",
    )
    model: ModelConfig = _key(factory=ModelConfig, doc="the architecture and its initialisation")
    prune: PruneConfig = _key(factory=PruneConfig, doc="the pruning schedule")
    train: TrainConfig = _key(
        factory=TrainConfig,
        doc="one training on the main dataset: optimiser, length, evaluation",
    )
    experiment: ExperimentConfig = _key(
        factory=ExperimentConfig,
        doc="what each round trains besides the ticket",
    )
    transfer: TransferConfig = _key(
        factory=TransferConfig,
        doc="other datasets and settings each round's ticket is trained on",
    )
    maxgroup: MaxGroupConfig = _key(factory=MaxGroupConfig, doc="the synthetic MaxGroup dataset")

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
        self.transfer.validate(self.data.dataset, self.train)
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
        """Everything that determines the numbers (see ``config.compat``)."""
        return identity(self)

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
