"""MaxGroup: a synthetic dataset where every input pixel carries signal.

Each example is 784 i.i.d. uniform pixels shown as a 28x28 image (drawn uniformly from the
256 levels 0..255, i.e. Uniform(0, 1) at 8-bit precision like any image). A fixed permutation
drawn from the seed assigns pixel positions to ``groups`` groups; the label is the index of
the group whose pixels have the largest sum (the lowest index on a tie). Unlike MNIST, the
border pixels that MNIST tickets prune first matter as much as any other.

Group sizes (``maxgroup.group_size``): ``equal`` gives every group ``784 // groups`` pixels
(78 for 10 groups) and leaves the 4 left over in no group, so every class is equally likely
by symmetry. ``uneven`` (protocol 1) spreads all 784 over groups of 78 and 79; a group with
one pixel more wins its sum comparison more often, and the 79-pixel classes took ~12% of
examples each against ~8.5% for the others.
"""

from __future__ import annotations

import numpy as np
import torch

PIXELS = 784


def group_matrix(groups: int, seed: int, equal: bool = True) -> torch.Tensor:
    """``[784, groups]`` 0/1 matrix: pixel i belongs to group g. Fixed by the seed; with
    ``equal``, the last ``784 % groups`` pixels of the permutation belong to no group."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(PIXELS, generator=g)
    if equal:
        perm = perm[: PIXELS // groups * groups]
    member = torch.zeros(PIXELS, groups, dtype=torch.int32)
    for k, chunk in enumerate(torch.tensor_split(perm, groups)):
        member[chunk, k] = 1
    return member


def labels(x: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
    """Index of the group with the largest pixel sum for each row of uint8 ``x``."""
    return (x.to(torch.int32) @ member).argmax(dim=1)


def generate(
    train_size: int, test_size: int, groups: int, seed: int, equal: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic train and test arrays (uint8 ``[N, 784]``, int64 labels)."""
    member = group_matrix(groups, seed, equal)
    g = torch.Generator().manual_seed(seed + 1)
    out = []
    for n in (train_size, test_size):
        x = torch.randint(0, 256, (n, PIXELS), generator=g, dtype=torch.uint8)
        out += [x.numpy(), labels(x, member).numpy()]
    return out[0], out[1], out[2], out[3]
