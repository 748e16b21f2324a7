"""Exact compaction: train only the part of a sparse network that can affect its output.

An input pixel whose outgoing weights are all pruned, or a hidden unit whose outgoing
weights are all pruned (or lead only to dropped units), cannot change the logits. In the
plain masked computation such units receive exactly zero gradient, so their incoming weights
and biases never change either. Dropping them from every member of a cohort (keeping the
union of what any member still uses) therefore gives the same trained network with smaller
matrix products; ``expand`` writes the trained part back into the full tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch

from ticketlab.models.params import Params


@dataclass
class Compaction:
    keep: list[torch.Tensor]  # kept unit indices at each layer boundary, inputs first

    def shrink(self, params: Params) -> Params:
        """Full stacked tensors ``[M, out, in]`` / ``[M, out]`` (weights and biases, or
        weight masks alone) -> their kept part."""
        out = {}
        for i in range(1, len(self.keep)):
            rows, cols = self.keep[i], self.keep[i - 1]
            out[f"fc{i}.weight"] = params[f"fc{i}.weight"][:, rows][:, :, cols].contiguous()
            if f"fc{i}.bias" in params:
                out[f"fc{i}.bias"] = params[f"fc{i}.bias"][:, rows].contiguous()
        return out

    def expand(self, small: Params, full: Params) -> Params:
        """Copies of ``full`` with the kept part replaced by ``small``."""
        out = {k: v.clone() for k, v in full.items()}
        for i in range(1, len(self.keep)):
            rows, cols = self.keep[i], self.keep[i - 1]
            out[f"fc{i}.weight"][:, rows.view(-1, 1), cols] = small[f"fc{i}.weight"]
            out[f"fc{i}.bias"][:, rows] = small[f"fc{i}.bias"]
        return out

    def size_fraction(self, sizes: tuple[int, ...]) -> float:
        """Weights of the compacted network as a fraction of the full one's."""
        kept = [len(k) for k in self.keep]
        return sum(a * b for a, b in pairwise(kept)) / sum(a * b for a, b in pairwise(sizes))


def plan_compaction(masks: dict[str, torch.Tensor], n_layers: int) -> Compaction:
    """Walk back from the outputs: a unit is kept if some member has a surviving weight
    from it to a kept unit of the next layer. ``masks`` are stacked ``[M, out, in]``."""
    out_dim = masks[f"fc{n_layers}.weight"].shape[1]
    device = masks[f"fc{n_layers}.weight"].device
    keep = [torch.arange(out_dim, device=device)]
    for i in range(n_layers, 0, -1):
        used = masks[f"fc{i}.weight"][:, keep[0]].bool().any(dim=0).any(dim=0)
        keep.insert(0, used.nonzero().squeeze(1))
    return Compaction(keep)
