"""Scores that decide which weights a mask keeps (higher: kept first), and the selection of
a mask from scores at a target density.

IMP's criteria (Zhou et al. 2019, "Deconstructing Lottery Tickets") score a trained network
against its initial weights. Pruning at initialisation scores the initial network alone:
SNIP (Lee et al. 2019) |g * w|, GraSP (Wang et al. 2020) w * Hg, SynFlow (Tanaka et al.
2020) the synaptic flow |w * dR/dw| of R = 1^T (prod |W|) 1, magnitude |w|. Every score is
computed on the masked network, and selection only ever keeps weights the current mask
keeps: a pruned weight is never revived. Ties are broken at random by a seeded generator,
not by position (with ``large_final_same_sign``'s many zeros, position would prune the
low indices first).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ticketlab.config import PRUNE_CRITERIA

Tensors = dict[str, torch.Tensor]
# One network's logits for a batch: apply(params, x) -> [B, classes].
Apply = Callable[[Tensors, torch.Tensor], torch.Tensor]


def criterion(name: str, final: Tensors, init: Tensors) -> Tensors:
    """Zhou et al.'s IMP criteria over the tensors of ``final``: ``large_final`` |w_f|,
    ``magnitude_increase`` |w_f| - |w_i|, ``movement`` |w_f - w_i|, ``large_init`` |w_i|,
    ``large_final_same_sign`` |w_f| where the sign did not flip, else 0."""
    out = {}
    for k, wf in final.items():
        wi = init[k].to(wf.dtype)
        if name == "large_final":
            out[k] = wf.abs()
        elif name == "magnitude_increase":
            out[k] = wf.abs() - wi.abs()
        elif name == "movement":
            out[k] = (wf - wi).abs()
        elif name == "large_init":
            out[k] = wi.abs()
        elif name == "large_final_same_sign":
            out[k] = torch.where(torch.sign(wf) == torch.sign(wi), wf.abs(), torch.zeros_like(wf))
        else:
            raise ValueError(
                f"unknown criterion {name!r}; choose one of {', '.join(PRUNE_CRITERIA)}"
            )
    return out


def _masked(params: Tensors, mask: Tensors) -> Tensors:
    return {k: v * mask[k].to(v.dtype) if k in mask else v for k, v in params.items()}


def snip(apply: Apply, params: Tensors, mask: Tensors, x: torch.Tensor, y: torch.Tensor) -> Tensors:
    """Connection sensitivity |dL/dc| at c = 1 for a weight's gate c: |g * w|, with g the
    gradient of the cross-entropy on the batch at the masked weights."""
    w = {k: v.detach().clone().requires_grad_(k in mask) for k, v in _masked(params, mask).items()}
    loss = F.cross_entropy(apply(w, x), y)
    grads = torch.autograd.grad(loss, [w[k] for k in mask])
    return {k: (g * w[k]).abs().detach() for k, g in zip(mask, grads, strict=True)}


GRASP_TEMPERATURE = 200.0  # the authors divide the logits by 200 when scoring


def grasp(
    apply: Apply, params: Tensors, mask: Tensors, x: torch.Tensor, y: torch.Tensor
) -> Tensors:
    """Gradient signal preservation: w * (H g), with g the loss gradient (held fixed) and H
    the Hessian, on logits divided by ``GRASP_TEMPERATURE``. Wang et al. remove the weights
    with the largest -w * Hg, so the weights with the largest w * Hg are kept first."""
    w = {k: v.detach().clone().requires_grad_(k in mask) for k, v in _masked(params, mask).items()}
    names = list(mask)
    loss = F.cross_entropy(apply(w, x) / GRASP_TEMPERATURE, y)
    g = [t.detach() for t in torch.autograd.grad(loss, [w[k] for k in names])]
    loss = F.cross_entropy(apply(w, x) / GRASP_TEMPERATURE, y)
    grads = torch.autograd.grad(loss, [w[k] for k in names], create_graph=True)
    z = sum((a * b).sum() for a, b in zip(g, grads, strict=True))
    assert isinstance(z, torch.Tensor)
    hg = torch.autograd.grad(z, [w[k] for k in names])
    return {k: (w[k] * h).detach() for k, h in zip(names, hg, strict=True)}


def synflow(apply: Apply, params: Tensors, mask: Tensors, input_shape: tuple[int, ...]) -> Tensors:
    """Synaptic saliency |w * dR/dw| of R = sum of the logits of the network with every
    parameter replaced by its absolute value, for an all-ones input: data-free. In float64,
    so that the product over layers does not overflow where float32 would (the authors'
    code runs in float32)."""
    w = {
        k: v.detach().abs().double().requires_grad_(k in mask)
        for k, v in _masked(params, mask).items()
    }
    r = apply(w, torch.ones(1, *input_shape, dtype=torch.float64)).sum()
    grads = torch.autograd.grad(r, [w[k] for k in mask])
    return {k: (g * w[k]).abs().detach() for k, g in zip(mask, grads, strict=True)}


def keep_counts(mask: Tensors, density: float) -> dict[str, int]:
    """Per tensor, how many weights a layer-wise mask of ``density`` keeps (rounded, never
    more than the current mask keeps)."""
    return {k: min(int(m.sum()), round(density * m.numel())) for k, m in mask.items()}


def _top(scores: torch.Tensor, alive: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    """Flat indices of the ``k`` highest-scoring ``alive`` positions, ties at the threshold
    drawn uniformly at random: a selection in linear time (a k-th value, not a sort)."""
    idx = alive.flatten().nonzero().squeeze(1)
    if k >= len(idx):
        return idx
    if k <= 0:
        return idx[:0]
    values = scores.flatten()[idx].double()
    cut = torch.kthvalue(values, len(idx) - k + 1).values  # the k-th largest
    above = idx[values > cut]
    tied = idx[values == cut]
    need = k - len(above)
    return torch.cat([above, tied[torch.randperm(len(tied), generator=g)[:need]]])


def select_layerwise(scores: Tensors, mask: Tensors, counts: dict[str, int], seed: int) -> Tensors:
    """Keep ``counts[name]`` of each tensor's surviving weights, highest score first."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, m in mask.items():
        keep = torch.zeros(m.numel(), dtype=torch.bool)
        keep[_top(scores[name], m, counts[name], g)] = True
        out[name] = keep.view_as(m)
    return out


def select_global(scores: Tensors, mask: Tensors, total: int, seed: int) -> Tensors:
    """Keep the ``total`` surviving weights of highest score over all tensors pooled."""
    g = torch.Generator().manual_seed(seed)
    names = list(mask)
    flat = torch.cat([scores[n].flatten().double() for n in names])
    alive = torch.cat([mask[n].flatten() for n in names])
    keep = torch.zeros(len(flat), dtype=torch.bool)
    keep[_top(flat, alive, total, g)] = True
    out, offset = {}, 0
    for n in names:
        size = mask[n].numel()
        out[n] = keep[offset : offset + size].view_as(mask[n])
        offset += size
    return out


def inverted(scores: Tensors) -> Tensors:
    """The sanity check of Frankle et al. 2021: keep the lowest-scoring weights instead."""
    return {k: -v for k, v in scores.items()}
