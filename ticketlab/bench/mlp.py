"""``ticketlab bench``: training throughput against the device's peak and a plain baseline.

Measured in one process on the current device:

- the dense fp32 matrix-multiply peak (GFLOP/s) of a large square matmul;
- ticketlab's cohort trainer for several cohort sizes and densities (masks from one-shot
  layer-wise magnitude pruning of a briefly trained LeNet, so they have the real structure);
- one plain single-network PyTorch loop of the kind most lottery-ticket code uses: a
  DataLoader over per-sample tensors, ``nn.Linear`` layers, the mask re-applied after every
  step.

FLOPs are counted as the dense network's work, 3 x (2 x multiply-adds of a forward pass) per
example (forward, backward to activations, backward to weights), whatever the density: a
sparse network that runs faster shows up as more "effective" GFLOP/s, not hidden.

With conv rows, the same for convolutional networks (``run_conv_bench``): cohorts of each
model against a plain single-network loop with a ``DataLoader`` whose worker processes crop
and flip each example, as torchvision transforms would; model-epochs per second of each.

Step times come from training without evaluation: the fastest chunk of ``PROGRESS_EVERY``
steps after a first, untimed chunk (set-up and warm-up), so set-up costs are left out and a
burst of other work on a shared machine does not count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ticketlab.bench.timing import best_chunk, matmul_peak, plain_step, time_call, timed_total
from ticketlab.config import TrainConfig
from ticketlab.data.datasets import Dataset
from ticketlab.device import synchronize
from ticketlab.models.mlp import MLPSpec, init_params
from ticketlab.pruning.magnitude import Mask, full_mask, prune_layerwise
from ticketlab.train.cohort import Member, Progress, train_cohort
from ticketlab.train.members import PROGRESS_EVERY
from ticketlab.train.optim import make_optimizer
from ticketlab.train.scores import ScoreMember, kaiming_uniform_scores, top_k_mask, train_scores
from ticketlab.train.sparse import BlockSparse


@dataclass
class Row:
    method: str  # "ticketlab", "compiled" (its step through torch.compile), "bf16" or "baseline"
    cohort: int
    density: float
    ms_per_step: float
    model_epochs_per_s: float
    gflops: float
    peak_fraction: float
    cost_vs_dense: float  # step time / the (eager) dense step time of the same cohort


def structured_masks(
    data: Dataset, spec: MLPSpec, densities: list[float], device: torch.device
) -> dict[float, Mask]:
    """Masks keeping ``d`` of each layer by magnitude after 400 steps of training."""
    (trained,) = train_cohort(
        [Member(init_params(spec, "pytorch_default", 0), full_mask(spec), data, 0)],
        spec,
        TrainConfig(steps=400, eval_every=400),
        device,
    )
    full = full_mask(spec)
    return {
        d: prune_layerwise(trained.weights, full, dict.fromkeys(full, 1.0 - d)) for d in densities
    }


def ours_step_time(
    data: Dataset,
    spec: MLPSpec,
    mask: Mask,
    cohort: int,
    steps: int,
    device: torch.device,
    precision: str = "fp32",
    **options: Any,
) -> float:
    """The fastest chunk's seconds a step of a cohort training its weights in
    ``precision``; ``options`` go to the trainer."""
    members = [
        Member(init_params(spec, "pytorch_default", i), mask, data, i) for i in range(cohort)
    ]
    marks: list[float] = []

    def mark(p: Progress) -> None:
        if p.step > 0:
            synchronize(device)
            marks.append(time.perf_counter())

    total = timed_total(steps)
    cfg = TrainConfig(steps=total, eval_every=total, precision=precision)
    train_cohort(members, spec, cfg, device, on_progress=mark, evaluate=False, **options)
    return best_chunk(marks)


@dataclass
class ScoreRow:
    method: str  # edgepopup, biprop
    cohort: int
    keep: float
    ms_per_step: float
    dense_ms_per_step: float  # weight training of the same network and cohort, dense path
    top_k_ms: float  # the step's top-k selections alone

    @property
    def ratio(self) -> float:
        return self.ms_per_step / self.dense_ms_per_step


def score_rows(
    data: Dataset,
    spec: MLPSpec,
    cohorts: list[int],
    keeps: list[float],
    steps: int,
    device: torch.device,
) -> list[ScoreRow]:
    """Score training (``train.scores``) against dense weight training of the same cohort
    (sparse paths and compaction off), and the share of its step the top-k takes."""
    names = spec.weight_names()
    rows = []
    for cohort in cohorts:
        full = full_mask(spec)
        dense = ours_step_time(
            data, spec, full, cohort, steps, device, compact=False, sparse_below=(0.0, 0.0)
        )
        for keep in keeps:
            members = [
                ScoreMember(
                    init_params(spec, "pytorch_default", i),
                    {k: kaiming_uniform_scores(full[k].shape, i) for k in names},
                    {k: round(keep * full[k].numel()) for k in names},
                    data,
                    i,
                )
                for i in range(cohort)
            ]
            for method in ("edgepopup", "biprop"):
                marks: list[float] = []

                def mark(p: Progress, marks: list[float] = marks) -> None:
                    synchronize(device)
                    marks.append(time.perf_counter())

                total = timed_total(steps)
                cfg = TrainConfig(optimizer="sgd", lr=1.0, momentum=0.9, steps=total)
                train_scores(members, spec, cfg, method, device, evaluate=False, on_progress=mark)
                stacked = {
                    k: torch.stack([m.scores[k] for m in members]).to(device).abs() for k in names
                }
                counts = {
                    k: torch.tensor([m.keep[k] for m in members], device=device) for k in names
                }

                def select(stacked: dict = stacked, counts: dict = counts) -> None:
                    for k in names:
                        top_k_mask(stacked[k], counts[k], dtype=torch.float32)

                rows.append(
                    ScoreRow(
                        method,
                        cohort,
                        keep,
                        best_chunk(marks) * 1e3,
                        dense * 1e3,
                        time_call(select, device) * 1e3,
                    )
                )
    return rows


def baseline_step_time(
    data: Dataset, spec: MLPSpec, mask: Mask, steps: int, device: torch.device
) -> float:
    """A plain loop: DataLoader over per-sample tensors, mask re-applied after each step."""
    x = data.normalise(data.train.x).cpu()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, data.train.y.cpu()), batch_size=128, shuffle=True
    )
    layers: list[nn.Module] = []
    for i in range(spec.n_layers):
        layers.append(nn.Linear(spec.sizes[i], spec.sizes[i + 1]))
        if i < spec.n_layers - 1:
            layers.append(nn.ReLU())
    net = nn.Sequential(*layers).to(device)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    masks = [mask[f"fc{i + 1}.weight"].to(device).float() for i in range(spec.n_layers)]
    opt = torch.optim.Adam(net.parameters(), lr=1.2e-3)
    total = timed_total(steps)
    marks: list[float] = []
    done = 0
    while done < total:
        for xb, yb in loader:
            plain_step(net, opt, linears, masks, xb.to(device), yb.to(device))
            done += 1
            if done % PROGRESS_EVERY == 0:
                synchronize(device)
                marks.append(time.perf_counter())
            if done == total:
                break
    return best_chunk(marks)


@dataclass
class CrossoverRow:
    layer: str  # "input" (no input gradient) or "hidden"
    density: float
    dense_ms: float
    sparse_ms: float


def crossover(
    device: torch.device, cohort: int, densities: list[float], batch: int = 128
) -> list[CrossoverRow]:
    """Time one training step (forward, backward, Adam) of one layer of a cohort, dense and
    masked versus block-sparse, at each density: the input layer (784 -> 300, no input
    gradient) and a hidden layer (300 -> 100, with input gradient), with the trainer's
    optimizer. Random masks, one per member."""
    rows = []
    for layer, (n_in, n_out) in (("input", (784, 300)), ("hidden", (300, 100))):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(cohort, batch, n_in, generator=g).to(device)
        up = torch.randn(cohort, batch, n_out, generator=g).to(device)
        for d in densities:
            mask = (torch.rand(cohort, n_out, n_in, generator=g) < d).to(device)
            w = torch.randn(cohort, n_out, n_in, generator=g).to(device) * mask
            dense = _dense_layer_step(x, up, w, mask, layer == "hidden")
            sparse = _sparse_layer_step(x, up, w, mask, layer == "hidden")
            rows.append(
                CrossoverRow(
                    layer, d, time_call(dense, device) * 1e3, time_call(sparse, device) * 1e3
                )
            )
    return rows


def _dense_layer_step(
    x: torch.Tensor, up: torch.Tensor, w: torch.Tensor, mask: torch.Tensor, input_grad: bool
) -> Callable[[], None]:
    xin = x.clone().requires_grad_(input_grad)
    # Input-major, [M, in, out], as the trainer holds dense weights (``sparse.forward``).
    weight = w.transpose(1, 2).contiguous().requires_grad_()
    opt = make_optimizer([weight], TrainConfig())
    fmask = mask.transpose(1, 2).float().contiguous()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        (torch.bmm(xin, weight) * up).sum().backward()
        assert weight.grad is not None
        weight.grad.mul_(fmask)
        opt.step()

    return step


def _sparse_layer_step(
    x: torch.Tensor, up: torch.Tensor, w: torch.Tensor, mask: torch.Tensor, input_grad: bool
) -> Callable[[], None]:
    cohort, batch, n_in = x.shape
    layer = BlockSparse(mask, input_grad=input_grad)
    values = layer.gather(w).requires_grad_()
    opt = make_optimizer([values], TrainConfig())
    x_t = x.transpose(1, 2).contiguous().view(cohort * n_in, batch).requires_grad_(input_grad)
    up_t = up.transpose(1, 2).contiguous().view(-1, batch)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        (layer.apply(values, x_t) * up_t).sum().backward()
        opt.step()

    return step


def run_bench(
    data: Dataset,
    device: torch.device,
    cohorts: list[int],
    densities: list[float],
    steps: int,
    baseline: bool = True,
    crossover_densities: list[float] | None = None,
    compiled: bool = False,
    scores: bool = False,
    bf16: bool = False,
) -> dict[str, object]:
    """The throughput table; with ``compiled`` also dense rows with the step compiled by
    ``torch.compile``; with ``crossover_densities`` also the dense/sparse crossover table
    (see ``crossover``) for the largest cohort; with ``scores`` score training against
    dense weight training (``score_rows``) at the densities below 1 as keep fractions; with
    ``bf16`` rows of every cohort and density with ``train.precision: bf16`` (``bf16``) and
    the bf16 matmul peak."""
    spec = MLPSpec((data.input_dim, 300, 100, data.num_classes))
    flop = 3 * spec.flops_per_example()
    batch = TrainConfig().batch_size
    peak = matmul_peak(device)
    masks = structured_masks(data, spec, densities, device)
    rows: list[Row] = []

    def row(method: str, cohort: int, d: float, secs: float, dense: float) -> Row:
        gflops = cohort * batch * flop / secs / 1e9
        return Row(
            method,
            cohort,
            d,
            secs * 1e3,
            cohort * batch / secs / len(data.train),
            gflops,
            gflops / peak,
            secs / dense,
        )

    for cohort in cohorts:
        times = {d: ours_step_time(data, spec, masks[d], cohort, steps, device) for d in densities}
        rows += [row("ticketlab", cohort, d, t, times[max(densities)]) for d, t in times.items()]
        if compiled:
            t = ours_step_time(data, spec, masks[1.0], cohort, steps, device, compile_step=True)
            rows.append(row("compiled", cohort, 1.0, t, times[1.0]))
        if bf16:
            for d in densities:
                t = ours_step_time(data, spec, masks[d], cohort, steps, device, "bf16")
                rows.append(row("bf16", cohort, d, t, times[max(densities)]))
    if baseline:
        times = {d: baseline_step_time(data, spec, masks[d], steps, device) for d in densities}
        rows += [row("baseline", 1, d, t, times[max(densities)]) for d, t in times.items()]
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "matmul_peak_gflops": peak,
        "matmul_peak_bf16_gflops": matmul_peak(device, dtype=torch.bfloat16) if bf16 else None,
        "flop_per_example_step": flop,
        "flop_note": "dense work: 3 x 2 x multiply-adds of LeNet-300-100's forward pass per "
        "example, whatever the density",
        "batch_size": batch,
        "train_examples": len(data.train),
        "rows": [asdict(r) for r in rows],
        "scores": [
            asdict(r) | {"ratio": r.ratio}
            for r in (
                score_rows(data, spec, cohorts, [d for d in densities if d < 1], steps, device)
                if scores
                else []
            )
        ],
        "crossover_cohort": max(cohorts),
        "crossover": [
            asdict(r) for r in crossover(device, max(cohorts), crossover_densities or [])
        ],
    }
