"""Controls: the networks a winning ticket is compared with, built from its mask and init.

Each control trains under the ticket's mask (``random_mask`` under a random one with the
same per-tensor counts) from weights made of the ticket's starting weights ``ticket`` (the
original init, or the rewind point with late resetting) and a fresh draw ``fresh`` from the
init scheme. Masked tensors are the weight tensors named in ``mask``; every other parameter
(biases) takes its ``fresh`` value in every control but ``random_mask``, as in ``reinit``.

- ``reinit``: ``fresh`` weights (Frankle & Carbin 2019, random re-initialisation).
- ``random_mask``: the ticket's weights under a uniformly random mask with the same number
  of kept weights per tensor (Frankle & Carbin 2019).
- ``signed_reinit``: fresh magnitudes ``|fresh|``, each kept weight with the sign of the
  ticket's (Zhou et al. 2019, "reinit" with the initial signs kept).
- ``signed_constant``: each kept weight is the sign of the ticket's times the standard
  deviation of the tensor's starting values (Zhou et al. 2019, "constant" with signs kept).
- ``reshuffle``: the ticket's kept starting values permuted at random among the kept
  positions of their tensor (Zhou et al. 2019, "reshuffle").
- ``signed_reshuffle``: the ticket's kept magnitudes permuted at random among the kept
  positions, each with the ticket's sign at its new position (Zhou et al. 2019, the
  reshuffle with the initial signs kept).
- ``scaled_reinit``: ``fresh`` weights rescaled per tensor so that the kept ones have the
  root-mean-square of the ticket's kept starting values (our construction: it separates
  the scale of the kept values from their distribution and positions. Zhou et al. 2019's
  ``*_rescaling`` variants instead multiply by the number of weights over the number kept).

Everything is written against tensors and masks by name, so it holds for any architecture.
"""

from __future__ import annotations

import torch

from ticketlab.models.params import Params
from ticketlab.pruning.magnitude import Mask, random_mask_like


def make_control(
    name: str, ticket: Params, mask: Mask, fresh: Params | None, seed: int
) -> tuple[Params, Mask]:
    """Initial weights and mask of control ``name``; ``seed`` drives any random choice
    (the random mask, the reshuffle permutation). ``random_mask`` alone needs no fresh
    draw (None)."""
    if name == "random_mask":
        return ticket, random_mask_like(mask, seed)
    if fresh is None:
        raise ValueError(f"control {name!r} needs a fresh draw of the init scheme")
    if name == "reinit":
        return fresh, mask
    g = torch.Generator().manual_seed(seed)
    out = dict(fresh)
    for k, m in mask.items():
        w = ticket[k]
        if name == "signed_reinit":
            out[k] = fresh[k].abs() * w.sign()
        elif name == "signed_constant":
            out[k] = w.sign() * w.std(correction=0)
        elif name in ("reshuffle", "signed_reshuffle"):
            values = w.flatten().clone() if name == "reshuffle" else w.abs().flatten()
            kept = m.flatten().nonzero().squeeze(1)
            values[kept] = values[kept[torch.randperm(len(kept), generator=g)]]
            out[k] = values.view_as(w) if name == "reshuffle" else values.view_as(w) * w.sign()
        elif name == "scaled_reinit":
            kept = m.bool()
            fresh_rms = fresh[k][kept].square().mean().sqrt()
            out[k] = (
                fresh[k] * (w[kept].square().mean().sqrt() / fresh_rms)
                if kept.any() and fresh_rms > 0
                else fresh[k]
            )
        else:
            raise ValueError(f"unknown control {name!r}")
    return out, mask
