"""Train a cohort of M networks of one architecture in lockstep: the trainer's interface.

Every member has its own mask, initial weights, training data (dataset, order and
augmentation draws) and optimizer state; all members share the architecture, batch size,
step count and optimizer setting. The result for each member is the same as training it
alone (within float rounding): the loss is a sum of per-member mean losses, and the
optimizers act elementwise on the stacked tensors.

``train_cohort`` hands the cohort to its architecture's trainer (``TRAINERS``): the MLP's
fast path (``mlp.py``: batched matrix products, compaction, block-sparse layers) or the
trainer for any ``nn.Module`` (``modules.py``: ``torch.func``). Both measure sign stability
(Zhou et al. 2019) at every evaluation point: per weight tensor, the fraction of kept
weights whose sign differs from the sign they started this training with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ticketlab.config import TrainConfig
from ticketlab.errors import ConfigError
from ticketlab.models.mlp import MLPSpec
from ticketlab.models.registry import Architecture, ModuleSpec
from ticketlab.train.members import (
    Checkpoint,
    EpochHook,
    EvalPoint,
    Member,
    Progress,
    TrainResult,
)
from ticketlab.train.mlp import train_mlp
from ticketlab.train.modules import batch_norm_scales, train_modules

__all__ = [
    "TRAINERS",
    "Checkpoint",
    "EpochHook",
    "EvalPoint",
    "Member",
    "Progress",
    "TrainResult",
    "train_cohort",
]

TRAINERS: dict[type, Callable[..., list[TrainResult]]] = {
    MLPSpec: train_mlp,
    ModuleSpec: train_modules,
}


def train_cohort(
    members: list[Member],
    arch: Architecture,
    cfg: TrainConfig,
    device: torch.device,
    on_progress: Callable[[Progress], None] | None = None,
    checkpoint: Checkpoint | None = None,
    **options: Any,
) -> list[TrainResult]:
    """Train every member for ``cfg``'s steps and evaluate all on validation and test data
    at step 0, every ``cfg.eval_every`` steps and at the end. ``options`` go to the
    architecture's trainer (every trainer takes ``evaluate`` and ``dtype``; the MLP's also
    its fast paths' switches). With ``checkpoint`` the trainer saves its state mid-way and
    resumes from it (``members.Saves``)."""
    refuse_bn_l1(arch, cfg, arch.name if isinstance(arch, ModuleSpec) else "an MLP")
    trainer = TRAINERS[type(arch)]
    return trainer(members, arch, cfg, device, on_progress, checkpoint=checkpoint, **options)


def refuse_bn_l1(arch: Architecture, setting: TrainConfig, model: str) -> None:
    """``train.bn_l1`` penalises batch-norm scales: refuse it where ``arch``'s network (named
    ``model`` in the message) has none, as a run does before it writes anything and every
    cohort before it trains."""
    if setting.bn_l1 and (isinstance(arch, MLPSpec) or not batch_norm_scales(arch.build())):
        raise ConfigError(
            f"{setting.label()}: train.bn_l1 penalises batch-norm scales, and {model} has no "
            "batch norm; set it to 0 or use a model with batch norm"
        )
