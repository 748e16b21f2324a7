"""The MLP's fast path: a cohort of LeNet-style MLPs as batched matrix products.

Parameters are stacked along a leading cohort dimension and the step is a handful of
batched matrix products. Pruned weights start at zero and their gradients are masked before
every optimizer step, so their Adam moments and momentum stay zero and they stay exactly
zero throughout training. Sparse cohorts are first compacted (``compaction.py``) and their
sparse layers trained as block-sparse matrices of kept values (``sparse.py``); both are
exact. Evaluation takes a sparse first layer through one CSR product.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import torch

from ticketlab.config import TrainConfig
from ticketlab.device import autocast, sparse_eval_threshold, sparse_threshold
from ticketlab.models.mlp import MLPSpec
from ticketlab.models.params import Params, on_cpu, stack, unstack
from ticketlab.train import optim
from ticketlab.train.compaction import plan_compaction
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
from ticketlab.train.sparse import BlockSparse, csr_index
from ticketlab.train.sparse import forward as sparse_forward

LossFn = Callable[[Params, torch.Tensor, torch.Tensor], torch.Tensor]

COMPACT_BELOW = 0.9  # compact when the kept network has at most this share of the weights


def _compiled(fn: LossFn) -> LossFn:
    """``fn`` through ``torch.compile``, falling back to ``fn`` itself (with a warning) if
    compiling fails on the first call, e.g. where no C++ compiler is installed."""
    use: LossFn = torch.compile(fn, dynamic=False)
    first = True

    def call(p: Params, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        nonlocal use, first
        if not first:
            return use(p, xb, yb)
        first = False
        try:
            return use(p, xb, yb)
        except Exception as e:  # any compiler failure: train eagerly instead
            warnings.warn(f"torch.compile failed ({e}); training eagerly", stacklevel=2)
            use = fn
            return fn(p, xb, yb)

    return call


class _Evaluator:
    """Mean loss and accuracy of every member on a split of its own dataset.

    Members are grouped by dataset; each group's chunk of inputs is shared, so a dense first
    layer is one GEMM against every member's weights. A sparse first layer (kept density at
    or below ``device.SPARSE_EVAL_BELOW``) is one CSR product against the shared
    chunk instead: the group's kept weights as a ``[members * out, in]`` CSR matrix (no
    block-diagonal, so the input is not repeated per member), costing the kept weights
    rather than the dense matrix. The inputs of each split, reduced to the compacted
    columns, are prepared once per training, not at every evaluation."""

    def __init__(
        self,
        members: list[Member],
        cols: torch.Tensor | None,
        first: BlockSparse | None,
        dtype: torch.dtype,
    ) -> None:
        self.dtype = dtype
        self.m_count = len(members)
        groups: dict[int, list[int]] = {}
        for i, m in enumerate(members):
            groups.setdefault(id(m.data), []).append(i)
        self.groups = list(groups.values())
        self.data = [members[rows[0]].data for rows in self.groups]
        self.first = first
        self.x: dict[tuple[int, str], torch.Tensor] = {}
        for g, data in enumerate(self.data):
            for split in ("val", "test"):
                x = data.split(split).x
                x = x if cols is None else x[:, cols]
                # Feature-major, [in, examples]: the layout of the first layer's product.
                self.x[(g, split)] = x.t().contiguous()
        self.patterns = [self._pattern(rows) for rows in self.groups] if first else []

    def _pattern(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """CSR row pointers, column indices and value positions of the group's kept
        first-layer weights, rows member after member, over the shared inputs."""
        first = self.first
        assert first is not None
        picked = torch.cat([(first.member == r).nonzero().squeeze(1) for r in rows])
        flat = first.flat[picked]
        row = flat // first.cols  # member * out + unit
        local = torch.tensor(rows, device=row.device)
        rank = torch.empty(first.members, dtype=torch.long, device=row.device)
        rank[local] = torch.arange(len(rows), device=row.device)
        member = row // first.rows
        new_row = rank[member] * first.rows + row % first.rows
        crow = torch.zeros(len(rows) * first.rows + 1, dtype=torch.long, device=row.device)
        crow[1:] = torch.bincount(new_row, minlength=len(rows) * first.rows).cumsum(0)
        return csr_index(crow), csr_index(flat % first.cols), picked

    @torch.no_grad()
    def __call__(
        self, params: Params, values: torch.Tensor | None, split: str, n_layers: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``[M]`` losses and accuracies, left on the device (no sync). ``params`` are the
        stacked dense weights; ``values`` the kept first-layer values on the sparse path.

        Activations stay feature-major (``[members, units, examples]``, contiguous) from the
        first layer to the logits: the first layer's product, dense or CSR, yields that
        layout for all of a group's members at once, and every later layer is a batched
        product on it, so no activation is transposed or copied."""
        device = params["fc1.weight"].device
        loss = torch.zeros(self.m_count, device=device, dtype=self.dtype)
        acc = torch.zeros(self.m_count, device=device, dtype=self.dtype)
        for g, (rows, data) in enumerate(zip(self.groups, self.data, strict=True)):
            part = data.split(split)
            sel = torch.tensor(rows, device=device)
            sub = {k: v.index_select(0, sel) for k, v in params.items()}
            units = sub["fc1.weight"].shape[1]
            if self.first is not None:
                assert values is not None
                crow, col, picked = self.patterns[g]
                shape = (len(rows) * self.first.rows, self.first.cols)
                w1 = torch.sparse_csr_tensor(crow, col, values[picked], shape)
            else:
                w1 = sub["fc1.weight"].flatten(0, 1)  # [members * units, in]
            tot_loss = torch.zeros(len(rows), device=device, dtype=self.dtype)
            correct = torch.zeros(len(rows), device=device, dtype=self.dtype)
            x = self.x[(g, split)]
            for start in range(0, len(part), EVAL_CHUNK):
                yb = part.y[start : start + EVAL_CHUNK]
                xb = data.normalise(x[:, start : start + EVAL_CHUNK], self.dtype)
                h = (torch.sparse.mm(w1, xb) if self.first is not None else w1 @ xb).view(
                    len(rows), units, -1
                )
                h = h.add_(sub["fc1.bias"].unsqueeze(2))
                for i in range(2, n_layers + 1):
                    h = torch.baddbmm(
                        sub[f"fc{i}.bias"].unsqueeze(2), sub[f"fc{i}.weight"], h.relu_()
                    )
                ce, right = loss_and_correct(h.transpose(1, 2), yb)
                tot_loss += ce
                correct += right
            loss[sel] = tot_loss / len(part)
            acc[sel] = correct / len(part)
        return loss, acc


def train_mlp(
    members: list[Member],
    spec: MLPSpec,
    cfg: TrainConfig,
    device: torch.device,
    on_progress: Callable[[Progress], None] | None = None,
    compact: bool = True,
    evaluate: bool = True,
    sparse_below: tuple[float, float] | None = None,
    compile_step: bool = False,
    dtype: torch.dtype = torch.float32,
    sparse_eval_below: float | None = None,
    on_epoch: EpochHook | None = None,
    checkpoint: Checkpoint | None = None,
    checkpoint_every_s: float = CHECKPOINT_EVERY_S,
) -> list[TrainResult]:
    """Train every member for ``cfg`` steps; evaluate all on validation and test data at
    step 0, every ``cfg.eval_every`` steps and at the end.

    Two exact optimisations make cost fall with sparsity. With ``compact``, units that no
    member can use are dropped first when the kept network has at most ``COMPACT_BELOW`` of
    the weights (see ``compaction.py``). Then each layer whose kept density is at or below
    the device's threshold trains as a block-sparse matrix (see ``sparse.py``);
    ``sparse_below`` overrides the thresholds (input layer, hidden layers), ``(0, 0)`` for
    dense everywhere. Evaluation takes a sparse first layer through a CSR product at or
    below its own threshold (``sparse_eval_below``, default ``device.SPARSE_EVAL_BELOW``).
    ``compile_step`` runs a dense network's forward pass and loss through
    ``torch.compile`` (eager if compiling fails; off by default, as ``ticketlab bench
    --compile`` found no consistent gain on the CPU, see README).
    ``evaluate=False`` (for benchmarks) skips every evaluation and returns results with no
    evaluation points. ``dtype`` is the floating type of weights and activations (float64
    lets tests compare the fast paths with the plain one far below float32 rounding).
    ``on_epoch`` may end training early (see ``members.EpochHook``). With ``checkpoint``,
    the training state is saved every ``checkpoint_every_s`` seconds and a training that
    finds a saved state continues from it (``members.Saves``); ``on_epoch`` keeps state of
    its own, so it is not given with ``checkpoint``."""
    if on_epoch is not None and checkpoint is not None:
        raise ValueError("on_epoch keeps state a checkpoint does not save: give one or the other")
    start = time.perf_counter()
    n_layers = spec.n_layers
    full_masks = {k: v.to(device) for k, v in stack([m.mask for m in members]).items()}
    full = {k: v.to(device, dtype) for k, v in stack([m.init for m in members]).items()}
    for k, mk in full_masks.items():
        full[k] = full[k] * mk
    plan = plan_compaction(full_masks, n_layers) if compact else None
    if plan is not None and plan.size_fraction(spec.sizes) > COMPACT_BELOW:
        plan = None
    params = plan.shrink(full) if plan is not None else {k: v.clone() for k, v in full.items()}
    small_masks = plan.shrink(full_masks) if plan is not None else full_masks
    layers: dict[str, BlockSparse] = {}
    for i in range(1, n_layers + 1):
        k = f"fc{i}.weight"
        below = (
            sparse_threshold(device, i == 1)
            if sparse_below is None
            else sparse_below[0 if i == 1 else 1]
        )
        if small_masks[k].float().mean().item() <= below:
            layers[k] = BlockSparse(small_masks[k], input_grad=i > 1)
            params[k] = layers[k].gather(params[k])
    # Dense weights train input-major, [M, in, out] (see ``sparse.forward``).
    dense_keys = [k for k in params if k.endswith("weight") and k not in layers]
    for k in dense_keys:
        params[k] = params[k].transpose(1, 2).contiguous()
    # Only dense layers where some member has pruned weights need their gradients masked.
    masks = {
        k: small_masks[k].transpose(1, 2).float().contiguous()
        for k in dense_keys
        if not small_masks[k].all()
    }
    feature_major = "fc1.weight" in layers
    cols = plan.keep[0] if plan is not None else None
    pool = Pool(members, device, cols, dtype)
    eval_below = sparse_eval_threshold(device) if sparse_eval_below is None else (sparse_eval_below)
    first = layers.get("fc1.weight")
    sparse_first = first is not None and first.density <= eval_below
    evaluator = (
        _Evaluator(members, cols, first if sparse_first else None, dtype) if evaluate else None
    )
    total = cfg.total_steps(pool.n)
    steps_per_epoch = -(-pool.n // cfg.batch_size)
    tensors = [p.requires_grad_() for p in params.values()]
    opt = optim.make_optimizer(tensors, cfg)
    schedule = optim.make_schedule(opt, cfg, steps_per_epoch) if optim.scheduled(cfg) else None
    orders = order_generators(members)
    captured: list[Params | None] = [None] * len(members)
    history: History = []
    weight_keys = [k for k in params if k.endswith("weight")]
    start_sign = {k: params[k].detach().sign() for k in weight_keys}
    per_member = {k: layer.per_member for k, layer in layers.items()}  # block-sparse layouts
    # Kept weights per member and layer in the full network. Compaction only drops weights
    # that get no gradient, so they never flip and counting flips in the kept part suffices.
    kept = torch.stack([full_masks[k].flatten(1).sum(1) for k in weight_keys], 1).to(dtype)

    def sign_flips() -> torch.Tensor:
        return sign_flip_counts(params, start_sign, dtype, per_member)

    def dense_now() -> Params:
        """The stacked weights as ``[M, out, in]`` (views of the input-major ones)."""
        now = {k: v.detach() for k, v in params.items()}
        for k, layer in layers.items():
            now[k] = layer.scatter(now[k])
        for k in dense_keys:
            now[k] = now[k].transpose(1, 2)
        return now

    def evaluate_at(step: int) -> None:
        if not evaluate:
            if on_progress is not None:
                on_progress(Progress(step, total, len(members)))
            return
        assert evaluator is not None
        now = dense_now()
        values = params["fc1.weight"].detach() if sparse_first else None
        with autocast(device, precision):
            vl, va = evaluator(now, values, "val", n_layers)
            tl, ta = evaluator(now, values, "test", n_layers)
        history.append(CohortEval(step, vl, va, tl, ta, sign_flips()))
        if on_progress is not None:
            on_progress(Progress(step, total, len(members), va.tolist()))

    def as_full() -> Params:
        now = dense_now()
        return (
            plan.expand(now, full)
            if plan is not None
            else {k: v.contiguous() for k, v in now.items()}
        )

    def capture(step: int) -> None:
        if any(m.capture_step == step for m in members):
            now = as_full()
            for i, m in enumerate(members):
                if m.capture_step == step:
                    captured[i] = {k: v[i].cpu().clone() for k, v in now.items()}

    def eager_loss(p: Params, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return cohort_loss(sparse_forward(p, layers, xb, n_layers, feature_major), yb)

    step_loss = _compiled(eager_loss) if compile_step and not layers else eager_loss
    # bf16 for dense cohorts only: with block-sparse layers (fp32 only) the casts between
    # them made a bf16 step slower than an fp32 one (``ticketlab bench --bf16``).
    precision = cfg.precision if not layers else "fp32"
    saves = Saves(checkpoint, checkpoint_every_s, params, opt, schedule, orders)
    saved = resume_cohort(saves, device, history, captured)
    begin, order = 0, None
    if saved is not None:
        begin, order, elapsed = saved
        start -= elapsed
    else:
        evaluate_at(0)
        capture(0)
    for step in range(begin, total):
        pos = step % steps_per_epoch
        if pos == 0:
            order = epoch_order(orders, pool.n, device)
        assert order is not None
        idx = order[:, pos * cfg.batch_size : (pos + 1) * cfg.batch_size]
        xb, yb = pool.batch(idx, feature_major)
        with autocast(device, precision):
            loss = step_loss(params, xb, yb)
        optim.masked_step(opt, loss, params, masks, schedule)
        done = step + 1
        capture(done)
        stop = (
            on_epoch is not None
            and done % steps_per_epoch == 0
            and on_epoch(done // steps_per_epoch, lambda: unstack(on_cpu(as_full())))
        )
        if done % cfg.eval_every == 0 or done == total or stop:
            evaluate_at(done)
        elif on_progress is not None and done % PROGRESS_EVERY == 0:
            on_progress(Progress(done, total, len(members)))
        if stop:
            break
        if saves.due():
            save_cohort(saves, done, order, time.perf_counter() - start, history, captured)

    wall = time.perf_counter() - start
    weights = unstack(on_cpu(as_full()))
    kernels = {
        f"fc{i}.weight": "block-sparse fp32" if f"fc{i}.weight" in layers else f"dense {precision}"
        for i in range(1, n_layers + 1)
    }
    results = [
        TrainResult(weights[i], [], wall, captured[i], dict(kernels)) for i in range(len(members))
    ]
    return with_history(results, history, kept, weight_keys)
