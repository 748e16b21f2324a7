"""The model registry: a model by name (``model.name``) or a user's own factory by import
path (``"mypackage.models:make_net"``), as an architecture the trainer and pruning use.

An architecture says which tensors a network has (``shapes``), which of them may be pruned
(``weight_names``: every Conv and Linear weight, input to output; biases and norm parameters
never), which one is the output layer's, what kind each is (``conv``, ``fc``, ``output``:
presets prune the kinds at different rates), and how to draw a network's initial state from
a seed. ``lenet_300_100`` (any hidden sizes) is an ``MLPSpec``, with the MLP's fast paths;
every other model is a ``ModuleSpec`` around an ``nn.Module`` and trains through
``torch.func``.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from ticketlab.config import ModelConfig
from ticketlab.errors import ConfigError
from ticketlab.models.conv import conv_n, lenet5
from ticketlab.models.mlp import MLPSpec
from ticketlab.models.params import Params
from ticketlab.models.resnet import ResNet
from ticketlab.models.vgg import VGG

Factory = Callable[..., nn.Module]
Shape = tuple[int, ...]

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _named(name: str, width: int) -> Factory | None:
    """The factory of a registered model name, or None."""
    if name == "lenet5":
        return lambda input_shape, num_classes: lenet5(input_shape, num_classes)
    if m := re.fullmatch(r"conv([246])", name):
        n = int(m.group(1))
        return lambda input_shape, num_classes: conv_n(n, input_shape, num_classes, width)
    if m := re.fullmatch(r"resnet(\d+)", name):
        depth = int(m.group(1))
        return lambda input_shape, num_classes: ResNet(depth, width, input_shape, num_classes)
    if m := re.fullmatch(r"vgg(\d+)", name):
        depth = int(m.group(1))
        return lambda input_shape, num_classes: VGG(depth, input_shape, num_classes)
    return None


MODEL_NAMES = ("lenet_300_100", "lenet5", "conv2", "conv4", "conv6", "resnet20", "vgg11", "vgg16")


def display_model(name: str) -> str:
    """A model's name as papers write it (``conv2`` -> Conv-2, ``resnet20`` -> ResNet-20)."""
    if name == "lenet_300_100":
        return "LeNet-300-100"
    if name == "lenet5":
        return "LeNet-5"
    for prefix, shown in (("conv", "Conv"), ("resnet", "ResNet"), ("vgg", "VGG")):
        if re.fullmatch(rf"{prefix}\d+", name):
            return f"{shown}-{name[len(prefix) :]}"
    return name


def import_factory(path: str) -> Factory:
    """``"package.module:function"`` -> the function, with a message that says what failed."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"model.name {path!r}: cannot import {module_name!r} ({e})") from e
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"model.name {path!r}: {module_name} has no callable {attr!r}")
    return factory


def import_path(factory: Factory) -> str:
    """``"package.module:function"`` of a factory, checked to import back to it."""
    path = f"{factory.__module__}:{factory.__qualname__}"
    if "<" in path or factory.__module__ == "__main__" or import_factory(path) is not factory:
        raise ConfigError(
            f"model factory {path} cannot be recorded by import path: define it at the top "
            "level of an importable module (not in __main__ or a notebook cell)"
        )
    return path


def call_factory(factory: Factory, input_shape: Shape, num_classes: int) -> nn.Module:
    """A factory is called with ``input_shape`` and ``num_classes`` where it takes them."""
    accepted = inspect.signature(factory).parameters
    kwargs: dict[str, Any] = {}
    if "input_shape" in accepted:
        kwargs["input_shape"] = input_shape
    if "num_classes" in accepted:
        kwargs["num_classes"] = num_classes
    net = factory(**kwargs)
    if not isinstance(net, nn.Module):
        raise ConfigError(f"the model factory returned {type(net).__name__}, not a torch.nn.Module")
    return net


@dataclass(frozen=True)
class ModuleSpec:
    """Any ``nn.Module`` architecture: what ``factory`` builds for inputs of
    ``input_shape`` and ``num_classes`` outputs."""

    name: str
    factory: Factory = field(compare=False, repr=False)
    input_shape: Shape
    num_classes: int

    def build(self) -> nn.Module:
        return call_factory(self.factory, self.input_shape, self.num_classes)

    def eval_net(self) -> nn.Module:
        """One built module, in eval mode, kept with the spec: what the names, shapes and
        kinds are read from and what ``apply`` runs (built on first use, the global random
        state untouched; call it before ``vmap(apply)``, which refuses the random draws of
        a module's construction)."""
        cached = self.__dict__.get("_net")
        if cached is None:
            with torch.random.fork_rng(devices=[]):
                cached = self.build().eval()
            object.__setattr__(self, "_net", cached)
        return cached

    def shapes(self) -> dict[str, Shape]:
        """Every tensor of the network's state (parameters and buffers)."""
        return {k: tuple(v.shape) for k, v in self.eval_net().state_dict().items()}

    def parameter_names(self) -> list[str]:
        return [k for k, _ in self.eval_net().named_parameters()]

    def weight_names(self) -> list[str]:
        """The prunable weights (Conv and Linear), in the order the module registers them."""
        return [
            f"{name}.weight"
            for name, m in self.eval_net().named_modules()
            if isinstance(m, PRUNABLE)
        ]

    def output_name(self) -> str:
        """The last Linear layer's weight: the output layer."""
        linear = [
            f"{n}.weight" for n, m in self.eval_net().named_modules() if isinstance(m, nn.Linear)
        ]
        return linear[-1] if linear else self.weight_names()[-1]

    def kind(self, name: str) -> str:
        if name == self.output_name():
            return "output"
        module = self.eval_net().get_submodule(name.rsplit(".", 1)[0])
        return "fc" if isinstance(module, nn.Linear) else "conv"

    def apply(self, state: Params, x: torch.Tensor) -> torch.Tensor:
        """One network's logits for ``x`` from its ``state`` (parameters and buffers), batch
        norm in eval mode (running statistics), as pruning-at-init scores need."""
        return functional_call(self.eval_net(), state, (x,))

    def signature(self) -> str:
        """Hash of the tensors' names and shapes: a changed module is not resumed into a run
        of the old one."""
        blob = json.dumps(sorted(self.shapes().items())).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def init(self, scheme: str, seed: int, bn_init: str = "ones") -> Params:
        """A network's initial state (parameters and buffers) drawn from ``seed``.

        ``pytorch_default``: the module's own initialisation. ``kaiming_normal``: He et al.'s
        N(0, 2/fan_in) for every Conv and Linear weight (OpenLTH's ``kaiming_normal``),
        other tensors as the module makes them. ``glorot_normal``: N(0, 2/(fan_in+fan_out))
        weights and zero biases for Conv and Linear (Frankle & Carbin). ``bn_init``
        ``uniform`` draws batch-norm scales from U(0, 1), as OpenLTH does."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = self.build()
            for m in net.modules():
                if bn_init == "uniform" and isinstance(m, nn.modules.batchnorm._BatchNorm):
                    nn.init.uniform_(m.weight, 0.0, 1.0)
                if not isinstance(m, PRUNABLE):
                    continue
                if scheme == "kaiming_normal":
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                elif scheme == "glorot_normal":
                    nn.init.xavier_normal_(m.weight)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif scheme != "pytorch_default":
                    raise ValueError(f"unknown init scheme {scheme!r}")
        return {k: v.detach().clone() for k, v in net.state_dict().items()}


Architecture = MLPSpec | ModuleSpec


def architecture(cfg: ModelConfig, input_shape: Shape, num_classes: int) -> Architecture:
    """The architecture ``cfg`` names, for inputs of ``input_shape`` ``(C, H, W)``."""
    if cfg.name == "lenet_300_100":
        dim = 1
        for s in input_shape:
            dim *= s
        return MLPSpec.from_config(cfg, dim, num_classes)
    factory = import_factory(cfg.name) if ":" in cfg.name else _named(cfg.name, cfg.width)
    if factory is None:
        raise ConfigError(
            f"unknown model.name {cfg.name!r}; choose one of {', '.join(MODEL_NAMES)} (any "
            "resnetD with D = 6n+2, vgg11/13/16/19), or give an import path "
            "'package.module:factory'"
        )
    spec = ModuleSpec(cfg.name, factory, tuple(input_shape), num_classes)
    try:
        net = spec.eval_net()  # kept: the spec reads its shapes from it
        with torch.no_grad():
            out = net(torch.zeros(1, *input_shape))
    except (RuntimeError, ValueError) as e:
        raise ConfigError(
            f"model {cfg.name} does not fit inputs of shape {tuple(input_shape)}: {e}"
        ) from e
    if tuple(out.shape) != (1, num_classes):
        raise ConfigError(
            f"model {cfg.name} gives outputs of shape {tuple(out.shape[1:])} for inputs of "
            f"shape {tuple(input_shape)}; the dataset has {num_classes} classes"
        )
    return spec
