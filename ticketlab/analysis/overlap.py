"""How alike two sets of masks are: Jaccard similarity per tensor and overall, beside what
independent masks of the same per-tensor densities would give by chance.

For masks A and B of one tensor with n weights, kept fractions k1 and k2: J = |A and B| /
|A or B|. Independent masks keep a weight in both with probability k1 k2, so E|A and B| =
n k1 k2 and E|A or B| = n (k1 + k2 - k1 k2); the chance level given here is the ratio of
these expectations. The overall figures sum the counts over tensors."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Overlap:
    """Kept in both, kept in either, the Jaccard similarity and its chance level."""

    both: int
    either: int
    jaccard: float
    chance: float


def _overlap(both: float, either: float, chance_both: float, chance_either: float) -> Overlap:
    return Overlap(
        int(both),
        int(either),
        both / either if either else float("nan"),
        chance_both / chance_either if chance_either else float("nan"),
    )


def overlap(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]
) -> tuple[dict[str, Overlap], Overlap]:
    """Per tensor (the names both sets have) and overall, summing counts over tensors."""
    per: dict[str, Overlap] = {}
    totals = [0.0, 0.0, 0.0, 0.0]
    for name in sorted(set(a) & set(b)):
        x, y = a[name].bool(), b[name].bool()
        if x.shape != y.shape:
            raise ValueError(f"{name}: masks of shapes {tuple(x.shape)} and {tuple(y.shape)}")
        n = x.numel()
        k1, k2 = x.float().mean().item(), y.float().mean().item()
        counts = (
            float((x & y).sum()),
            float((x | y).sum()),
            n * k1 * k2,
            n * (k1 + k2 - k1 * k2),
        )
        per[name] = _overlap(*counts)
        totals = [t + c for t, c in zip(totals, counts, strict=True)]
    return per, _overlap(*totals)


def largest_like(
    weights: dict[str, torch.Tensor], mask: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """A one-shot mask from ``weights`` alone (Zhou et al. 2019's ``large_init`` criterion):
    in each tensor of ``mask``, keep as many weights as ``mask`` does, those of largest
    magnitude. With the initial weights, the baseline of a mask found with no data at all
    at the same per-tensor densities."""
    out = {}
    for name, m in mask.items():
        w = weights[name].abs().flatten()
        keep = torch.zeros_like(w, dtype=torch.bool)
        keep[torch.topk(w, int(m.bool().sum())).indices] = True
        out[name] = keep.view_as(m)
    return out


def keep_map(mask: torch.Tensor, image: tuple[int, int, int]) -> torch.Tensor:
    """For a first layer ``[units, C*H*W]`` over flattened images of shape ``image``
    (C, H, W): the share of each pixel's outgoing weights kept, averaged over channels, as
    an ``[H, W]`` map."""
    c, h, w = image
    if mask.dim() != 2 or mask.shape[1] != c * h * w:
        raise ValueError(
            f"a first-layer mask of shape {tuple(mask.shape)}: {c}x{h}x{w} images need "
            f"[units, {c * h * w}]"
        )
    return mask.float().mean(0).view(c, h, w).mean(0)
