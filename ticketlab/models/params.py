"""A network's tensors by name (``Params``), and a cohort's: every tensor of M networks
stacked along a new leading dimension. Every layer above ``models`` passes weights, masks
and initial values in this form, whatever the architecture."""

from __future__ import annotations

import torch

Params = dict[str, torch.Tensor]


def stack(members: list[Params]) -> Params:
    """M networks' tensors as one cohort (``[M, ...]`` each)."""
    return {k: torch.stack([m[k] for m in members]) for k in members[0]}


def on_cpu(p: Params) -> Params:
    return {k: v.cpu() for k, v in p.items()}


def unstack(cohort: Params) -> list[Params]:
    """A cohort back into M networks (copies)."""
    n = next(iter(cohort.values())).shape[0]
    return [{k: v[i].clone() for k, v in cohort.items()} for i in range(n)]
