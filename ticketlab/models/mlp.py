"""LeNet-300-100 style MLPs as plain parameter dicts, single or stacked into a cohort.

A network is ``{"fc1.weight": [out, in], "fc1.bias": [out], ...}``; a cohort of M networks
stacks every tensor along a new leading dimension. The forward pass is batched matrix
products over that dimension, so M networks cost one set of kernel launches.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

import torch

from ticketlab.config import ModelConfig
from ticketlab.models.params import Params


@dataclass(frozen=True)
class MLPSpec:
    sizes: tuple[int, ...]  # input, hidden..., output

    @classmethod
    def from_config(cls, cfg: ModelConfig, input_dim: int, num_classes: int) -> MLPSpec:
        return cls((input_dim, *cfg.hidden, num_classes))

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    def weight_names(self) -> list[str]:
        return [f"fc{i + 1}.weight" for i in range(self.n_layers)]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        out: dict[str, tuple[int, ...]] = {}
        for i in range(self.n_layers):
            out[f"fc{i + 1}.weight"] = (self.sizes[i + 1], self.sizes[i])
            out[f"fc{i + 1}.bias"] = (self.sizes[i + 1],)
        return out

    def parameter_names(self) -> list[str]:
        return list(self.shapes())

    def output_name(self) -> str:
        return self.weight_names()[-1]

    def kind(self, name: str) -> str:
        return "output" if name == self.output_name() else "fc"

    def signature(self) -> str:
        """Hash of the tensors' names and shapes (see ``ModuleSpec.signature``)."""
        blob = json.dumps(sorted(self.shapes().items())).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def init(self, scheme: str, seed: int, bn_init: str = "ones") -> Params:
        """``bn_init`` is accepted for a common signature; an MLP has no batch norm."""
        return init_params(self, scheme, seed)

    def apply(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """One network's logits ``[B, classes]`` for inputs ``x`` (flattened)."""
        h = x.flatten(1)
        for i in range(1, self.n_layers + 1):
            h = torch.nn.functional.linear(h, params[f"fc{i}.weight"], params[f"fc{i}.bias"])
            if i < self.n_layers:
                h = torch.relu(h)
        return h

    def flops_per_example(self) -> int:
        """Dense multiply-adds x2 of one forward pass."""
        return 2 * sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True))


def init_params(spec: MLPSpec, scheme: str, seed: int) -> Params:
    """Fresh weights for one network, drawn on the CPU from ``seed`` so that the same seed
    gives the same network on every device.

    ``glorot_normal``: N(0, 2/(fan_in+fan_out)) weights, zero biases (Frankle & Carbin).
    ``pytorch_default``: ``nn.Linear``'s U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both.
    """
    g = torch.Generator().manual_seed(seed)
    params: Params = {}
    for i in range(spec.n_layers):
        fan_in, fan_out = spec.sizes[i], spec.sizes[i + 1]
        if scheme == "glorot_normal":
            w = torch.randn(fan_out, fan_in, generator=g) * math.sqrt(2.0 / (fan_in + fan_out))
            b = torch.zeros(fan_out)
        elif scheme == "pytorch_default":
            bound = 1.0 / math.sqrt(fan_in)
            w = torch.empty(fan_out, fan_in).uniform_(-bound, bound, generator=g)
            b = torch.empty(fan_out).uniform_(-bound, bound, generator=g)
        else:
            raise ValueError(f"unknown init scheme {scheme!r}")
        params[f"fc{i + 1}.weight"] = w
        params[f"fc{i + 1}.bias"] = b
    return params


def forward(params: Params, x: torch.Tensor, n_layers: int) -> torch.Tensor:
    """Logits ``[M, B, classes]`` of a stacked cohort for inputs ``x`` ``[M, B, in]`` (one
    batch per network)."""
    h = x
    for i in range(1, n_layers + 1):
        h = torch.baddbmm(
            params[f"fc{i}.bias"].unsqueeze(1), h, params[f"fc{i}.weight"].transpose(1, 2)
        )
        if i < n_layers:
            h = torch.relu(h)
    return h
