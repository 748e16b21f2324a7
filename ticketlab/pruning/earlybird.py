"""Early-bird tickets (You et al. 2020): stop a round's training once the mask it would
give has settled, and take that mask.

Two stopping rules:

- ``WeightRule`` (any network; the rule PrAC's code uses): after every epoch, the candidate
  mask is the current mask pruned at the round's rate by magnitude; d is the number of
  weights where it differs from the previous candidate, over the weights remaining at the
  start of the round; the ticket is drawn when the last ``window`` (5) values of d are all
  below ``eps`` (0.08). PrAC's code also waits until d has once exceeded eps before it
  counts; we do not (a mask that never moves has settled), and we say so in the docs.
- ``ChannelRule`` (networks with batch norm; You et al.'s own): a channel mask keeps the
  channels of largest |gamma| over all batch-norm layers at one global threshold; the
  ticket is drawn when the newest of the last ``window`` (5) channel masks lies within
  normalised Hamming distance ``threshold`` (0.1) of each of the 4 before it, as the
  authors' code does (their README describes another rule). ``channel_weight_mask``
  expresses a channel mask as a weight mask over the filters that produce the channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

Mask = dict[str, torch.Tensor]


def mask_distance(a: Mask, b: Mask) -> int:
    """How many entries two masks of the same tensors differ in."""
    return sum(int((a[k] != b[k]).sum()) for k in a)


@dataclass
class WeightRule:
    """The weight-mask rule; feed it each epoch's candidate with ``update``."""

    remaining: int  # weights the round's mask keeps at its start
    eps: float = 0.08
    window: int = 5
    last: Mask | None = None
    distances: list[float] = field(default_factory=list)

    def update(self, candidate: Mask) -> bool:
        """Record this epoch's candidate; True when the ticket is drawn (this candidate)."""
        if self.last is not None:
            self.distances.append(mask_distance(self.last, candidate) / self.remaining)
        self.last = candidate
        recent = self.distances[-self.window :]
        return len(recent) == self.window and max(recent) < self.eps


def channel_mask(gammas: dict[str, torch.Tensor], ratio: float) -> dict[str, torch.Tensor]:
    """Keep the channels whose |gamma| is above one threshold over every batch-norm layer,
    pruning ``ratio`` of all channels (exactly: ties at the threshold in the order given)."""
    flat = torch.cat([g.detach().abs().flatten() for g in gammas.values()])
    prune = int(len(flat) * ratio)
    keep = torch.ones(len(flat), dtype=torch.bool)
    keep[torch.sort(flat, stable=True).indices[:prune]] = False
    out, offset = {}, 0
    for name, g in gammas.items():
        out[name] = keep[offset : offset + g.numel()]
        offset += g.numel()
    return out


@dataclass
class ChannelRule:
    """You et al.'s channel rule; feed it each epoch's channel mask with ``update``."""

    threshold: float = 0.1
    window: int = 5
    masks: list[torch.Tensor] = field(default_factory=list)

    def update(self, mask: dict[str, torch.Tensor]) -> bool:
        flat = torch.cat([m.flatten() for m in mask.values()])
        self.masks = [*self.masks, flat][-self.window :]
        if len(self.masks) < self.window:
            return False
        newest = self.masks[-1]
        # Exact shares (a float32 mean makes 2/20 exceed 0.1).
        n = newest.numel()
        return all(int((newest != m).sum()) / n <= self.threshold for m in self.masks[:-1])


def bn_after_conv(module: nn.Module) -> dict[str, str]:
    """Each batch-norm layer (by name) and the weight of the convolution just before it in
    the module's order: the filters whose channels it scales."""
    out, last = {}, None
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d):
            last = f"{name}.weight"
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and last is not None:
            out[name] = last
            last = None
    return out


def channel_weight_mask(
    channels: dict[str, torch.Tensor], conv_of: dict[str, str], shapes: dict[str, tuple]
) -> Mask:
    """A channel mask (by batch-norm layer) as a weight mask: every weight of a pruned
    channel's filter off, the rest kept."""
    out = {}
    for bn, keep in channels.items():
        conv = conv_of[bn]
        shape = shapes[conv]
        out[conv] = keep.view(-1, *([1] * (len(shape) - 1))).expand(shape).clone()
    return out
