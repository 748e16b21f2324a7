"""Small networks for the tests, also reached by import path as a user's own model
(``model.name: tests.tinynets:bn_conv``)."""

from torch import nn


def bn_conv(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Conv, batch norm, pool, and two linear layers: every kind of tensor a conv net has."""
    return nn.Sequential(
        nn.Conv2d(input_shape[0], 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(4),
        nn.Flatten(),
        nn.Linear(4 * (input_shape[1] // 4) * (input_shape[2] // 4), 16),
        nn.ReLU(),
        nn.Linear(16, num_classes),
    )


def plain() -> nn.Module:
    """A factory that takes no arguments (MNIST-shaped, 10 classes)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
