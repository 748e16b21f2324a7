"""Evaluate one network's weights on a dataset split, outside any training: for analyses of
saved weights (``experiment.save_weights``) and for checking a record against them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from ticketlab.data.datasets import Dataset
from ticketlab.models.mlp import MLPSpec, forward
from ticketlab.models.params import Params
from ticketlab.models.registry import Architecture

CHUNK = 4096


@torch.no_grad()
def evaluate(
    spec: Architecture,
    weights: Params,
    data: Dataset,
    split: str = "test",
    device: torch.device | str = "cpu",
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of the network with ``weights`` (one network's
    tensors by name, batch-norm statistics included) on ``data``'s ``split``; a module in
    eval mode."""
    device = torch.device(device)
    part = data.split(split)
    w = {k: v.to(device, torch.float32) for k, v in weights.items()}
    module = None
    if not isinstance(spec, MLPSpec):
        module = spec.build().to(device).eval()
    loss, correct = 0.0, 0
    for s in range(0, len(part), CHUNK):
        x = data.normalise(part.x[s : s + CHUNK].to(device))
        y = part.y[s : s + CHUNK].to(device)
        if isinstance(spec, MLPSpec):
            stacked = {k: v.unsqueeze(0) for k, v in w.items()}
            logits = forward(stacked, x.unsqueeze(0), spec.n_layers)[0]
        else:
            assert module is not None
            logits = functional_call(module, w, (x.view(-1, *spec.input_shape),))
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += int((logits.argmax(1) == y).sum())
    return loss / len(part), correct / len(part)
