"""Small convolutional networks: LeNet-5 and Frankle & Carbin's Conv-2/4/6.

Conv-N (Frankle & Carbin 2019, Figure 2 and Appendix): N/2 blocks of two 3x3 convolutions
(64, then 128, then 256 channels) each followed by 2x2 max-pooling, then fully connected
layers of 256 and 256 units and the output layer. LeNet-5 (LeCun et al. 1998): 5x5
convolutions of 6 and 16 channels, each followed by 2x2 max-pooling, then 120, 84 and the
output layer (the first convolution is padded to keep 28x28 inputs at LeCun's 32x32 scale).
Both take any input shape; the first fully connected layer's width follows from it.
Conv-N takes a width multiplier, as Ramanujan et al. 2020's ``width_mult`` (hidden-networks'
conv nets): every convolution's channels and both hidden fully connected layers times it.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn


def _flat_size(features: nn.Module, input_shape: tuple[int, ...]) -> int:
    with torch.no_grad():
        return int(features(torch.zeros(1, *input_shape)).numel())


class ConvNet(nn.Module):
    """Convolutional ``features`` then a fully connected ``classifier`` ending in ``fc_out``."""

    def __init__(
        self, features: nn.Sequential, hidden: list[int], input_shape: tuple[int, ...], classes: int
    ) -> None:
        super().__init__()
        self.features = features
        sizes = [_flat_size(features, input_shape), *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.classifier = nn.Sequential(*layers)
        self.fc_out = nn.Linear(sizes[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(self.classifier(self.features(x)))


def conv_n(n: int, input_shape: tuple[int, ...], classes: int, width: int = 1) -> ConvNet:
    """Frankle & Carbin's Conv-``n`` (n = 2, 4 or 6), its channels and hidden units times
    ``width``."""
    if n not in (2, 4, 6):
        raise ValueError(f"Conv-{n}: n must be 2, 4 or 6")
    layers: list[nn.Module] = []
    channels = input_shape[0]
    for out in (64, 128, 256)[: n // 2]:
        for _ in range(2):
            layers += [nn.Conv2d(channels, out * width, 3, padding=1), nn.ReLU()]
            channels = out * width
        layers.append(nn.MaxPool2d(2))
    return ConvNet(nn.Sequential(*layers), [256 * width, 256 * width], input_shape, classes)


def lenet5(input_shape: tuple[int, ...], classes: int) -> ConvNet:
    pad = 2 if input_shape[-1] < 32 else 0
    features = nn.Sequential(
        nn.Conv2d(input_shape[0], 6, 5, padding=pad),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )
    return ConvNet(features, [120, 84], input_shape, classes)
