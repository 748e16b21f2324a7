"""The cohort's training data as one index space."""

from __future__ import annotations

from typing import Any

import torch

from ticketlab.train.members import Member


class Pool:
    """Members training on different datasets gather from a concatenation of their training
    splits, each with its own offset and standardisation."""

    def __init__(
        self,
        members: list[Member],
        device: torch.device,
        cols: torch.Tensor | None,
        dtype: torch.dtype,
    ) -> None:
        self.dtype = dtype
        unique: list[Any] = []
        for m in members:
            if not any(m.data is d for d in unique):
                unique.append(m.data)
        sizes = {len(d.train) for d in unique}
        if len(sizes) != 1:
            raise ValueError(f"cohort members must have equal training set sizes, got {sizes}")
        self.n = sizes.pop()
        xs = [d.train.x if cols is None else d.train.x[:, cols] for d in unique]
        self.x = xs[0].contiguous() if len(xs) == 1 else torch.cat(xs)
        self.y = torch.cat([d.train.y for d in unique])
        which = [next(i for i, d in enumerate(unique) if d is m.data) for m in members]
        self.offset = torch.tensor([i * self.n for i in which], device=device).view(-1, 1)
        self.scale = torch.tensor(
            [1.0 / (255.0 * m.data.std) for m in members], device=device, dtype=dtype
        ).view(-1, 1, 1)
        self.shift = torch.tensor(
            [-m.data.mean / m.data.std for m in members], device=device, dtype=dtype
        ).view(-1, 1, 1)

    def batch(self, idx: torch.Tensor, feature_major: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised inputs ``[M, b, in]`` (``[M, in, b]`` if ``feature_major``) and
        labels ``[M, b]`` for ``idx``, ``[M, b]`` positions within each member's dataset."""
        flat = (idx + self.offset).view(-1)
        raw = self.x.index_select(0, flat).view(*idx.shape, -1)
        y = self.y.index_select(0, flat).view(idx.shape)
        if not feature_major:
            return raw.to(self.dtype).mul_(self.scale).add_(self.shift), y
        # Transposing the uint8 bytes, then converting, measured fastest.
        x = raw.transpose(1, 2).contiguous().to(self.dtype)
        return x.mul_(self.scale).add_(self.shift), y
