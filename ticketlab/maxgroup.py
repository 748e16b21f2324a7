"""MaxGroup: a synthetic dataset where every input pixel carries signal.

Each example is 784 i.i.d. uniform pixels shown as a 28x28 image (drawn uniformly from the
256 levels 0..255, i.e. Uniform(0, 1) at 8-bit precision like any image). The 784 pixel
positions are split into ``groups`` groups of near-equal size (78 or 79 for 10 groups) by a
fixed permutation drawn from the seed; the label is the index of the group whose pixels have
the largest sum (the lowest index on a tie). Unlike MNIST, the border pixels that MNIST
tickets prune first matter as much as any other.
"""

from __future__ import annotations

import numpy as np
import torch

PIXELS = 784


def group_matrix(groups: int, seed: int) -> torch.Tensor:
    """``[784, groups]`` 0/1 matrix: pixel i belongs to group g. Fixed by the seed."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(PIXELS, generator=g)
    member = torch.zeros(PIXELS, groups, dtype=torch.int32)
    for k, chunk in enumerate(torch.tensor_split(perm, groups)):
        member[chunk, k] = 1
    return member


def labels(x: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
    """Index of the group with the largest pixel sum for each row of uint8 ``x``."""
    return (x.to(torch.int32) @ member).argmax(dim=1)


def generate(
    train_size: int, test_size: int, groups: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic train and test arrays (uint8 ``[N, 784]``, int64 labels)."""
    member = group_matrix(groups, seed)
    g = torch.Generator().manual_seed(seed + 1)
    out = []
    for n in (train_size, test_size):
        x = torch.randint(0, 256, (n, PIXELS), generator=g, dtype=torch.uint8)
        out += [x.numpy(), labels(x, member).numpy()]
    return out[0], out[1], out[2], out[3]
