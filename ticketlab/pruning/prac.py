"""PrAC (Zhang et al. 2021, "Efficient Lottery Ticket Finding: Less Data is More"): train
each IMP round on the examples that matter for pruning.

Per round, every training example's correctness at each epoch's forward pass gives its
forgetting events (correct at one epoch, incorrect at the next) and whether it was ever
learned. After the dense round, the examples on which the dense network and the pruned one
disagree (argmax) join them. The critical set = forgotten at least once or never learned,
united with the disagreement set; the next round trains on it for proportionally fewer
epochs (at least one).

Every function works in one index space: positions in the training split the trainer reads
(PrAC's code maps examples through its split file in one place and through plain indices in
another, which agree only for an identity split).
"""

from __future__ import annotations

import math

import torch


def forgetting(correct: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """From ``correct`` ``[epochs, examples]`` (bool): each example's forgetting events and
    whether it was never learned (never correct)."""
    c = correct.bool()
    events = (c[:-1] & ~c[1:]).sum(0) if len(c) > 1 else torch.zeros(c.shape[1], dtype=torch.long)
    return events, ~c.any(0)


def disagreement(dense: torch.Tensor, pruned: torch.Tensor) -> torch.Tensor:
    """Positions where two networks' predicted classes (``[examples]``) differ."""
    return (dense != pruned).nonzero().squeeze(1)


def critical_set(correct: torch.Tensor, disagree: torch.Tensor | None = None) -> torch.Tensor:
    """Sorted positions of the critical examples: forgotten at least once or never learned,
    with the disagreement positions added."""
    events, never = forgetting(correct)
    chosen = ((events > 0) | never).nonzero().squeeze(1)
    if disagree is not None:
        chosen = torch.cat([chosen, disagree])
    return torch.unique(chosen)


def scaled(epochs: int, milestones: list[float], kept: int, total: int) -> tuple[int, list[float]]:
    """A round on ``kept`` of ``total`` examples: its epochs (at least one) and learning-rate
    milestones, scaled by the same fraction."""
    share = kept / total
    return max(1, math.ceil(epochs * share)), [m * share for m in milestones]
