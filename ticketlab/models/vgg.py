"""CIFAR VGG with batch norm (Simonyan & Zisserman 2015, configurations A and D), as in
OpenLTH's ``cifar_vgg_11`` and ``cifar_vgg_16``: 3x3 convolutions each followed by batch
norm and ReLU, 2x2 max-pooling between stages, then global pooling and one linear output
layer of 512 inputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PLANS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
    19: [
        *[64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"],
        *[512, 512, 512, 512, "M", 512, 512, 512, 512],
    ],
}


class VGG(nn.Module):
    def __init__(self, depth: int, input_shape: tuple[int, ...], classes: int) -> None:
        super().__init__()
        if depth not in PLANS:
            raise ValueError(f"VGG depth must be one of {sorted(PLANS)}, got {depth}")
        layers: list[nn.Module] = []
        cin = input_shape[0]
        for item in PLANS[depth]:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                assert isinstance(item, int)
                layers += [nn.Conv2d(cin, item, 3, padding=1), nn.BatchNorm2d(item), nn.ReLU()]
                cin = item
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))
