"""The cohort trainer for any ``nn.Module``: M networks of one architecture in lockstep.

Each member's parameters and buffers (batch-norm statistics) are stacked along a leading
cohort dimension and the network runs under ``torch.func.vmap(functional_call)``, which
turns M convolutions into one grouped convolution. The loss is the sum of the members' mean
losses, so no member's gradient depends on another's, and the optimizers act elementwise:
every member trains as it would alone, with its own mask, initial state, data order,
augmentation draws, batch-norm statistics and optimizer state.

Pruned weights start at zero and their gradients are masked before every step; with zero
gradient, momentum and weight decay (both proportional to the weight or its past
gradients) leave them at zero. Evaluation runs in eval mode (batch norm on running
statistics) on the members' validation and test splits.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import torch
from torch.func import functional_call, vmap

from ticketlab.config import TrainConfig
from ticketlab.device import autocast
from ticketlab.device import batching as members_batching
from ticketlab.models.params import Params, on_cpu, stack, unstack
from ticketlab.models.registry import ModuleSpec
from ticketlab.train import optim
from ticketlab.train.members import (
    CHECKPOINT_EVERY_S,
    EVAL_CHUNK,
    PROGRESS_EVERY,
    Checkpoint,
    CohortEval,
    EpochHook,
    History,
    Member,
    Progress,
    Saves,
    TrainResult,
    cohort_loss,
    epoch_order,
    loss_and_correct,
    order_generators,
    resume_cohort,
    save_cohort,
    sign_flip_counts,
    with_history,
)
from ticketlab.train.pool import Pool

AUGMENT_SALT = 0x5EED_A06  # separates a member's augmentation draws from its data order


class _Augment:
    """Random crop (zero padding ``pad``) and horizontal flip, drawn per member from its
    own generator on the CPU, applied on the device to ``[M, B, C, H, W]`` batches."""

    def __init__(self, members: list[Member], pad: int, device: torch.device) -> None:
        self.pad = pad
        self.device = device
        self.gens = [torch.Generator().manual_seed(m.data_seed ^ AUGMENT_SALT) for m in members]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        m, b, c, h, w = x.shape
        p = self.pad
        draws = torch.stack(
            [torch.randint(0, 2 * p + 1, (3, b), generator=g) for g in self.gens], 1
        ).to(self.device, non_blocking=True)  # [3, M, B]: dy, dx, flip (odd = flip)
        dy, dx, flip = draws[0] - p, draws[1] - p, draws[2] % 2 == 1
        # Each output pixel's source in the unpadded image, as one gather; sources in the
        # padding read zero. (Padding the batch first cost more than the crop itself.)
        across = torch.arange(w, device=self.device)
        cols = dx.unsqueeze(-1) + torch.where(flip.unsqueeze(-1), across.flip(0), across)
        rows = dy.unsqueeze(-1) + torch.arange(h, device=self.device)
        inside = ((rows >= 0) & (rows < h)).unsqueeze(-1) & ((cols >= 0) & (cols < w)).unsqueeze(-2)
        src = rows.clamp(0, h - 1).unsqueeze(-1) * w + cols.clamp(0, w - 1).unsqueeze(-2)
        out = x.reshape(m * b, c, h * w).gather(2, src.view(m * b, 1, h * w).expand(-1, c, -1))
        return out.view(m, b, c, h, w).masked_fill_(~inside.view(m, b, 1, h, w), 0.0)


def batch_norm_scales(module: torch.nn.Module) -> list[str]:
    """The parameter names of ``module``'s batch-norm scales (gamma): what ``train.bn_l1``
    penalises."""
    return [
        f"{name}.weight"
        for name, m in module.named_modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.affine
    ]


def train_modules(
    members: list[Member],
    spec: ModuleSpec,
    cfg: TrainConfig,
    device: torch.device,
    on_progress: Callable[[Progress], None] | None = None,
    evaluate: bool = True,
    dtype: torch.dtype = torch.float32,
    batching: str | None = None,
    checkpoint: Checkpoint | None = None,
    checkpoint_every_s: float = CHECKPOINT_EVERY_S,
    on_epoch: EpochHook | None = None,
) -> list[TrainResult]:
    """Train every member for ``cfg``'s steps; evaluate all on validation and test data at
    step 0, every ``cfg.eval_every`` steps and at the end.

    With ``checkpoint``, the whole training state (weights, batch-norm statistics,
    optimizer and schedule state, the epoch's data order, every generator's state, the
    evaluations so far) is saved every ``checkpoint_every_s`` seconds, and a training that
    finds a saved state continues from it, to the same result as one never interrupted.
    ``on_epoch`` may end training early (see ``members.EpochHook``); it keeps state of its
    own, so it is not given with ``checkpoint``."""
    if on_epoch is not None and checkpoint is not None:
        raise ValueError("on_epoch keeps state a checkpoint does not save: give one or the other")
    start = time.perf_counter()
    base = spec.build().to("meta")  # the structure only; members' tensors are passed in
    names = spec.parameter_names()
    state = stack([m.init for m in members])
    masks = {k: v.to(device) for k, v in stack([m.mask for m in members]).items()}

    def as_float(t: torch.Tensor) -> torch.Tensor:
        return t.to(device, dtype) if t.is_floating_point() else t.to(device)

    params = {k: as_float(state[k]) for k in names}
    for k, mk in masks.items():
        params[k] = params[k] * mk
    buffers = {k: as_float(v).clone() for k, v in state.items() if k not in params}
    grad_masks = {k: v.to(dtype) for k, v in masks.items() if not v.all()}
    tensors = [p.requires_grad_() for p in params.values()]
    # train_cohort has refused bn_l1 on a net without scales.
    l1 = (cfg.bn_l1, batch_norm_scales(base)) if cfg.bn_l1 else None

    def call(p: Params, b: Params, x: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), (x,))

    def images(x: torch.Tensor) -> torch.Tensor:
        """Image batches in channels-last order: oneDNN's CPU convolutions ran a Conv-2 step
        1.2-1.6x faster so (LeNet-5's few channels: no change; README, Performance)."""
        return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x

    def looped(p: Params, b: Params, x: torch.Tensor, shared: bool = False) -> torch.Tensor:
        """Member after member, each on its own slices (``unbind``: one ``stack`` back), image
        batches channels-last."""
        ps = {k: v.unbind(0) for k, v in p.items()}
        bs = {k: v.unbind(0) for k, v in b.items()}
        n = next(iter(p.values())).shape[0]
        inputs = [images(x)] * n if shared else [images(xi) for xi in x.unbind(0)]
        return torch.stack(
            [
                call({k: v[i] for k, v in ps.items()}, {k: v[i] for k, v in bs.items()}, xi)
                for i, xi in enumerate(inputs)
            ]
        )

    train_fwd: Callable[[Params, Params, torch.Tensor], torch.Tensor]
    eval_fwd: Callable[[Params, Params, torch.Tensor], torch.Tensor]
    if (batching or members_batching(device)) == "loop":
        train_fwd = looped
        eval_fwd = functools.partial(looped, shared=True)
    else:
        train_fwd = vmap(call)
        eval_fwd = vmap(call, in_dims=(0, 0, None))
    shape = spec.input_shape
    pool = Pool(members, device, None, dtype)
    total = cfg.total_steps(pool.n)
    steps_per_epoch = -(-pool.n // cfg.batch_size)
    opt = optim.make_optimizer(tensors, cfg)
    schedule = optim.make_schedule(opt, cfg, steps_per_epoch)
    augment = _Augment(members, cfg.crop_pad, device) if cfg.augment == "crop_flip" else None
    orders = order_generators(members)
    weight_keys = list(masks)
    start_sign = {k: params[k].detach().sign() for k in weight_keys}
    kept = torch.stack([masks[k].flatten(1).sum(1) for k in weight_keys], 1).to(dtype)
    captured: list[Params | None] = [None] * len(members)
    history: History = []
    groups: dict[int, list[int]] = {}
    for i, m in enumerate(members):
        groups.setdefault(id(m.data), []).append(i)

    @torch.no_grad()
    def measure(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        loss = torch.zeros(len(members), device=device, dtype=dtype)
        acc = torch.zeros(len(members), device=device, dtype=dtype)
        base.eval()
        for rows in groups.values():
            data = members[rows[0]].data
            part = data.split(split)
            sel = torch.tensor(rows, device=device)
            p = {k: v.detach().index_select(0, sel) for k, v in params.items()}
            b = {k: v.index_select(0, sel) for k, v in buffers.items()}
            tot = torch.zeros(len(rows), device=device, dtype=dtype)
            correct = torch.zeros(len(rows), device=device, dtype=dtype)
            for s in range(0, len(part), EVAL_CHUNK):
                xb = data.normalise(part.x[s : s + EVAL_CHUNK], dtype).view(-1, *shape)
                yb = part.y[s : s + EVAL_CHUNK]
                with autocast(device, cfg.precision):
                    logits = eval_fwd(p, b, xb)  # [rows, B, classes]
                ce, right = loss_and_correct(logits, yb)
                tot += ce
                correct += right
            loss[sel] = tot / len(part)
            acc[sel] = correct / len(part)
        base.train()
        return loss, acc

    def sign_flips() -> torch.Tensor:
        return sign_flip_counts(params, start_sign, dtype)

    def evaluate_at(step: int) -> None:
        if not evaluate:
            if on_progress is not None:
                on_progress(Progress(step, total, len(members)))
            return
        vl, va = measure("val")
        tl, ta = measure("test")
        history.append(CohortEval(step, vl, va, tl, ta, sign_flips()))
        if on_progress is not None:
            on_progress(Progress(step, total, len(members), va.tolist()))

    def now() -> Params:
        return {k: v.detach() for k, v in params.items()} | buffers

    def capture(step: int) -> None:
        for i, m in enumerate(members):
            if m.capture_step == step:
                captured[i] = {k: v[i].cpu().clone() for k, v in now().items()}

    base.train()
    gens = orders + (augment.gens if augment is not None else [])
    saves = Saves(checkpoint, checkpoint_every_s, params | buffers, opt, schedule, gens)
    saved = resume_cohort(saves, device, history, captured)
    first, order = 0, None
    if saved is not None:
        first, order, elapsed = saved
        start -= elapsed
    else:
        evaluate_at(0)
        capture(0)
    for step in range(first, total):
        pos = step % steps_per_epoch
        if pos == 0:
            order = epoch_order(orders, pool.n, device)
        assert order is not None
        idx = order[:, pos * cfg.batch_size : (pos + 1) * cfg.batch_size]
        xb, yb = pool.batch(idx, feature_major=False)
        xb = xb.view(*idx.shape, *shape)
        if augment is not None:
            xb = augment(xb)
        with autocast(device, cfg.precision):
            loss = cohort_loss(train_fwd(params, buffers, xb), yb)
        optim.masked_step(opt, loss, params, grad_masks, schedule, l1)
        done = step + 1
        capture(done)
        stop = (
            on_epoch is not None
            and done % steps_per_epoch == 0
            and on_epoch(done // steps_per_epoch, lambda: unstack(on_cpu(now())))
        )
        if done % cfg.eval_every == 0 or done == total or stop:
            evaluate_at(done)
        elif on_progress is not None and done % PROGRESS_EVERY == 0:
            on_progress(Progress(done, total, len(members)))
        if stop:
            break
        if saves.due():
            save_cohort(saves, done, order, time.perf_counter() - start, history, captured)

    weights = unstack(on_cpu(now()))
    wall = time.perf_counter() - start
    kernels = dict.fromkeys(weight_keys, f"dense {cfg.precision}")
    results = [
        TrainResult(weights[i], [], wall, captured[i], dict(kernels)) for i in range(len(members))
    ]
    return with_history(results, history, kept, weight_keys)
