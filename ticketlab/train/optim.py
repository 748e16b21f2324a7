"""Optimizers and learning-rate schedules, shared by every cohort trainer.

Both act elementwise on stacked cohort tensors, so a member's update never depends on
another's values (how it rounds can depend on the member's place: the fused kernels compute
an element in vector lanes or a scalar tail by its offset in the stacked tensor). Weight
decay is the L2 term added to the gradient (``torch.optim``'s ``weight_decay``, as OpenLTH
uses it): zero for a pruned weight, whose value is zero.
"""

from __future__ import annotations

from typing import Any

import torch

from ticketlab.config import TrainConfig


def make_optimizer(params: list[torch.Tensor], cfg: TrainConfig) -> torch.optim.Optimizer:
    """Fused kernels where this torch build has them for the device (one pass over the
    stacked tensors), else the multi-tensor ``foreach`` path; both are elementwise."""
    kw: dict[str, Any] = {"weight_decay": cfg.weight_decay} if cfg.weight_decay else {}
    cls: type[torch.optim.Optimizer]
    if cfg.optimizer == "adam":
        cls = torch.optim.Adam
    else:
        cls, kw = torch.optim.SGD, kw | {"momentum": cfg.momentum}
    try:
        return cls(params, lr=cfg.lr, fused=True, **kw)
    except (RuntimeError, TypeError):
        return cls(params, lr=cfg.lr, foreach=True, **kw)


def lr_factor(cfg: TrainConfig, steps_per_epoch: int, step: int) -> float:
    """The learning rate at ``step`` as a multiple of ``cfg.lr``: a linear warmup over
    ``cfg.warmup_steps``, times ``cfg.gamma`` for every milestone (in epochs) passed."""
    factor = 1.0
    if cfg.warmup_steps and step < cfg.warmup_steps:
        factor = (step + 1) / cfg.warmup_steps
    for epoch in cfg.milestones:
        if step >= epoch * steps_per_epoch:
            factor *= cfg.gamma
    return factor


def make_schedule(
    opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Step once per optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: lr_factor(cfg, steps_per_epoch, step)
    )


def masked_step(
    opt: torch.optim.Optimizer,
    loss: torch.Tensor,
    params: dict[str, torch.Tensor],
    grad_masks: dict[str, torch.Tensor],
    schedule: torch.optim.lr_scheduler.LRScheduler | None,
    l1: tuple[float, list[str]] | None = None,
) -> None:
    """One optimizer step on ``loss`` with pruned weights' gradients zeroed first, so that
    their moments, momentum and weight decay leave them at zero. ``l1`` = (lambda, names):
    lambda x sign(p) added to those tensors' gradients (``train.bn_l1``)."""
    opt.zero_grad(set_to_none=True)  # fresh gradients: no accumulate pass
    loss.backward()
    if l1 is not None:
        lam, names = l1
        for k in names:
            grad = params[k].grad
            assert grad is not None
            grad.add_(params[k].detach().sign(), alpha=lam)
    for k, mk in grad_masks.items():
        grad = params[k].grad
        assert grad is not None  # every trained tensor takes part in the loss
        grad.mul_(mk)
    opt.step()
    if schedule is not None:
        schedule.step()


def scheduled(cfg: TrainConfig) -> bool:
    """Whether ``cfg`` changes the learning rate during training."""
    return bool(cfg.milestones or cfg.warmup_steps)
