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

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

import torch
from torch import nn

from ticketlab.config import ModelConfig, TrainConfig
from ticketlab.data.datasets import Dataset
from ticketlab.models.mlp import MLPSpec, init_params
from ticketlab.models.registry import PRUNABLE, ModuleSpec, architecture
from ticketlab.pruning.magnitude import Mask, full_mask, prune_layerwise
from ticketlab.train.cohort import Member, Progress, train_cohort
from ticketlab.train.members import PROGRESS_EVERY
from ticketlab.train.optim import make_optimizer
from ticketlab.train.sparse import SPARSE_BELOW, BlockSparse


@dataclass
class Row:
    method: str  # "ticketlab", "compiled" (its step through torch.compile) or "baseline"
    cohort: int
    density: float
    ms_per_step: float
    model_epochs_per_s: float
    gflops: float
    peak_fraction: float
    cost_vs_dense: float  # step time / the (eager) dense step time of the same cohort


def matmul_peak(device: torch.device, n: int = 2048, seconds: float = 1.0) -> float:
    """GFLOP/s of repeated ``n x n`` fp32 matmuls (the best of three timed bursts)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = 0.0
    for _ in range(3):
        _sync(device)
        t, reps = time.perf_counter(), 0
        while time.perf_counter() - t < seconds / 3:
            a @ b
            reps += 1
        _sync(device)
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t) / 1e9)
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
    compile_step: bool = False,
) -> float:
    members = [
        Member(init_params(spec, "pytorch_default", i), mask, data, i) for i in range(cohort)
    ]
    marks: list[float] = []

    def mark(p: Progress) -> None:
        if p.step > 0:
            _sync(device)
            marks.append(time.perf_counter())

    total = _timed_total(steps)
    cfg = TrainConfig(steps=total, eval_every=total)
    train_cohort(
        members, spec, cfg, device, on_progress=mark, evaluate=False, compile_step=compile_step
    )
    return _best_chunk(marks)


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
    total = _timed_total(steps)
    marks: list[float] = []
    done = 0
    while done < total:
        for xb, yb in loader:
            _plain_step(net, opt, linears, masks, xb.to(device), yb.to(device))
            done += 1
            if done % PROGRESS_EVERY == 0:
                _sync(device)
                marks.append(time.perf_counter())
            if done == total:
                break
    return _best_chunk(marks)


def _plain_step(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    layers: Sequence[nn.Module],
    masks: list[torch.Tensor],
    xb: torch.Tensor,
    yb: torch.Tensor,
) -> None:
    """The usual lottery-ticket step: a step of the whole network, then the mask
    re-applied to the pruned layers' weights."""
    loss = nn.functional.cross_entropy(net(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        for layer, m in zip(layers, masks, strict=True):
            weight = layer.weight
            assert isinstance(weight, torch.Tensor)
            weight.mul_(m)


def _timed_total(steps: int) -> int:
    """Steps to train for ``steps`` timed ones: whole chunks, plus one untimed chunk."""
    return (max(1, -(-steps // PROGRESS_EVERY)) + 1) * PROGRESS_EVERY


def _best_chunk(marks: list[float]) -> float:
    """Seconds per step of the fastest chunk between consecutive marks. The first chunk,
    which holds set-up and warm-up, has no mark before it and so is never counted; the
    fastest is the one least disturbed by other work on a shared machine."""
    return min(b - a for a, b in pairwise(marks)) / PROGRESS_EVERY


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
                CrossoverRow(layer, d, _time(dense, device) * 1e3, _time(sparse, device) * 1e3)
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


def _time(step: Callable[[], None], device: torch.device, reps: int = 10) -> float:
    """Seconds per call: the fastest of five bursts of ``reps`` calls, after a warm-up."""
    step()
    best = float("inf")
    for _ in range(5):
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            step()
        _sync(device)
        best = min(best, (time.perf_counter() - t) / reps)
    return best


def format_crossover(rows: list[dict[str, Any]], device: str, cohort: int) -> str:
    kind = torch.device(device).type
    lines = [
        f"dense masked vs block-sparse, one layer, cohort {cohort}, batch 128 "
        "(forward + backward + Adam step)",
        f"{'layer':<7} {'density':>8} {'dense ms':>9} {'sparse ms':>10} {'sparse/dense':>13}",
    ]
    for r in rows:
        assert isinstance(r["dense_ms"], float) and isinstance(r["sparse_ms"], float)
        lines.append(
            f"{r['layer']:<7} {r['density'] * 100:>7.1f}% {r['dense_ms']:>9.2f} "
            f"{r['sparse_ms']:>10.2f} {r['sparse_ms'] / r['dense_ms']:>13.2f}"
        )
    below = SPARSE_BELOW.get(kind)
    lines.append("")
    lines.append(
        f"in use on {kind}: sparse at or below {below[0]:.0%} (input layer), "
        f"{below[1]:.0%} (hidden layers)"
        if below
        else f"in use on {kind}: dense only (no crossover measured for this device yet)"
    )
    return "\n".join(lines)


def run_bench(
    data: Dataset,
    device: torch.device,
    cohorts: list[int],
    densities: list[float],
    steps: int,
    baseline: bool = True,
    crossover_densities: list[float] | None = None,
    compiled: bool = False,
) -> dict[str, object]:
    """The throughput table; with ``compiled`` also dense rows with the step compiled by
    ``torch.compile``; with ``crossover_densities`` also the dense/sparse crossover table
    (see ``crossover``) for the largest cohort."""
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
    if baseline:
        times = {d: baseline_step_time(data, spec, masks[d], steps, device) for d in densities}
        rows += [row("baseline", 1, d, t, times[max(densities)]) for d, t in times.items()]
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "matmul_peak_gflops": peak,
        "flop_per_example_step": flop,
        "flop_note": "dense work: 3 x 2 x multiply-adds of LeNet-300-100's forward pass per "
        "example, whatever the density",
        "batch_size": batch,
        "train_examples": len(data.train),
        "rows": [asdict(r) for r in rows],
        "crossover_cohort": max(cohorts),
        "crossover": [
            asdict(r) for r in crossover(device, max(cohorts), crossover_densities or [])
        ],
    }


def format_bench(result: dict[str, Any]) -> str:
    rows = result["rows"]
    assert isinstance(rows, list)
    lines = [
        f"device {result['device']} ({result['threads']} threads); fp32 matmul peak "
        f"{result['matmul_peak_gflops']:.0f} GFLOP/s",
        f"FLOPs: {result['flop_note']} = {result['flop_per_example_step']:,} per example; "
        f"batch {result['batch_size']}, epoch = {result['train_examples']:,} examples",
        "",
        f"{'method':<10} {'cohort':>6} {'density':>8} {'ms/step':>9} {'model-ep/s':>11} "
        f"{'GFLOP/s':>8} {'of peak':>8} {'vs dense':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['method']:<10} {r['cohort']:>6} {r['density'] * 100:>7.0f}% "
            f"{r['ms_per_step']:>9.2f} {r['model_epochs_per_s']:>11.2f} {r['gflops']:>8.1f} "
            f"{r['peak_fraction'] * 100:>7.0f}% {r['cost_vs_dense'] * 100:>8.0f}%"
        )
    base = [r for r in rows if r["method"] == "baseline" and r["density"] == 1.0]
    ours = [r for r in rows if r["method"] == "ticketlab" and r["density"] == 1.0]
    if base and ours:
        lines.append("")
        for r in ours:
            speedup = r["model_epochs_per_s"] / base[0]["model_epochs_per_s"]
            lines.append(
                f"cohort {r['cohort']:>3}, dense: {speedup:.1f}x "
                f"the baseline's model-epochs/s, {r['peak_fraction'] * 100:.0f}% of matmul peak"
            )
    conv = result.get("conv")
    if conv:
        assert isinstance(conv, list)
        lines += ["", format_conv(conv)]
    cross = result.get("crossover")
    if cross:
        assert isinstance(cross, list)
        lines += [
            "",
            format_crossover(cross, str(result["device"]), int(result["crossover_cohort"])),
        ]
    return "\n".join(lines)


@dataclass
class ConvRow:
    model: str
    method: str  # "ticketlab" (the cohort trainer) or "baseline" (a plain loop)
    cohort: int
    ms_per_step: float
    model_epochs_per_s: float


CONV_SETTING = TrainConfig(
    optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-4, augment="crop_flip"
)


def conv_step_time(
    data: Dataset, spec: ModuleSpec, cohort: int, steps: int, device: torch.device
) -> float:
    """Median seconds per step of a cohort of ``spec`` (SGD with momentum and weight decay,
    crop-and-flip augmentation, no evaluation), after two untimed warm-up steps."""
    members = [
        Member(spec.init("kaiming_normal", i), full_mask(spec), data, i) for i in range(cohort)
    ]
    marks: list[float] = []

    def mark(p: Progress) -> None:
        _sync(device)
        marks.append(time.perf_counter())

    total = steps + 2
    cfg = dataclasses.replace(CONV_SETTING, steps=total, eval_every=1)
    train_cohort(members, spec, cfg, device, on_progress=mark, evaluate=False)
    return statistics.median(b - a for a, b in pairwise(marks[2:]))


class _Augmented(torch.utils.data.Dataset):
    """Per-sample random crop (zero padding 4) and horizontal flip of standardised images,
    as a torchvision transform pipeline would do them."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, shape: tuple[int, ...]) -> None:
        self.x, self.y, self.shape = x, y, shape

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = nn.functional.pad(self.x[i].view(self.shape), (4, 4, 4, 4))
        dy, dx = (int(v) for v in torch.randint(0, 9, (2,)))
        img = img[:, dy : dy + self.shape[1], dx : dx + self.shape[2]]
        if torch.rand(()) < 0.5:
            img = img.flip(-1)
        return img, self.y[i]


def conv_baseline_step_time(
    data: Dataset, spec: ModuleSpec, steps: int, device: torch.device, workers: int = 2
) -> float:
    """A plain single-network loop of the usual kind: a DataLoader with ``workers`` worker
    processes applying per-sample crop and flip, the module itself, the same optimizer, the
    mask re-applied after every step. Median seconds per step after two warm-up steps."""
    x = data.normalise(data.train.x).cpu()
    loader = torch.utils.data.DataLoader(
        _Augmented(x, data.train.y.cpu(), spec.input_shape),
        batch_size=CONV_SETTING.batch_size,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    net = spec.build().to(device)
    prunable = [m for m in net.modules() if isinstance(m, PRUNABLE)]
    masks = [torch.ones_like(m.weight) for m in prunable]
    opt = torch.optim.SGD(
        net.parameters(),
        lr=CONV_SETTING.lr,
        momentum=CONV_SETTING.momentum,
        weight_decay=CONV_SETTING.weight_decay,
    )
    marks: list[float] = []
    while len(marks) < steps + 3:
        for xb, yb in loader:
            _plain_step(net, opt, prunable, masks, xb.to(device), yb.to(device))
            _sync(device)
            marks.append(time.perf_counter())
            if len(marks) == steps + 3:
                break
    return statistics.median(b - a for a, b in pairwise(marks[2:]))


def run_conv_bench(
    data: Dataset, device: torch.device, models: list[str], cohorts: list[int], steps: int
) -> list[dict[str, object]]:
    """Model-epochs per second of cohorts of each model against the plain loop."""
    rows = []
    epoch = len(data.train)
    for name in models:
        spec = architecture(ModelConfig(name=name), data.shape, data.num_classes)
        assert isinstance(spec, ModuleSpec)
        batch = CONV_SETTING.batch_size
        for cohort in cohorts:
            t = conv_step_time(data, spec, cohort, steps, device)
            rows.append(ConvRow(name, "ticketlab", cohort, t * 1e3, cohort * batch / t / epoch))
        t = conv_baseline_step_time(data, spec, steps, device)
        rows.append(ConvRow(name, "baseline", 1, t * 1e3, batch / t / epoch))
    return [asdict(r) for r in rows]


def format_conv(rows: list[dict[str, Any]]) -> str:
    lines = [
        "conv nets: SGD with momentum and weight decay, crop-and-flip augmentation, batch "
        f"{CONV_SETTING.batch_size}; baseline: one network, DataLoader with 2 workers",
        f"{'model':<9} {'method':<10} {'cohort':>6} {'ms/step':>9} {'model-ep/s':>11} "
        f"{'vs baseline':>12}",
    ]
    base = {r["model"]: r["model_epochs_per_s"] for r in rows if r["method"] == "baseline"}
    for r in rows:
        ratio = r["model_epochs_per_s"] / base[r["model"]]
        lines.append(
            f"{r['model']:<9} {r['method']:<10} {r['cohort']:>6} {r['ms_per_step']:>9.1f} "
            f"{r['model_epochs_per_s']:>11.3f} {ratio:>11.2f}x"
        )
    return "\n".join(lines)
