"""CIFAR ResNets of depth 6n+2 (He et al. 2016, Section 4.2), as in OpenLTH's
``cifar_resnet_D_W``: three stages of n basic blocks with W, 2W and 4W channels (W = 16 at
width 1), batch norm after every convolution, a 1x1 convolution with batch norm on the
shortcut where the shape changes, global average pooling and one linear output layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, depth: int, width: int, input_shape: tuple[int, ...], classes: int) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet's depth is 6n+2 (20, 32, 44, 56, 110), got {depth}")
        n, w = (depth - 2) // 6, 16 * width
        self.conv = nn.Conv2d(input_shape[0], w, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(w)
        blocks: list[nn.Module] = []
        cin = w
        for stage, cout in enumerate((w, 2 * w, 4 * w)):
            for i in range(n):
                blocks.append(Block(cin, cout, 2 if stage > 0 and i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))
