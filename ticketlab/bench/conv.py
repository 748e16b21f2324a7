"""The conv rows of ``ticketlab bench --conv``: cohorts of a conv net trained by the generic
cohort trainer against a plain single-network loop whose ``DataLoader`` workers crop and
flip each example, as torchvision transforms would; model-epochs per second of each."""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import asdict, dataclass
from itertools import pairwise

import torch
from torch import nn

from ticketlab.bench.timing import plain_step
from ticketlab.config import ModelConfig, TrainConfig
from ticketlab.data.datasets import Dataset
from ticketlab.device import synchronize
from ticketlab.models.registry import PRUNABLE, ModuleSpec, architecture
from ticketlab.pruning.magnitude import full_mask
from ticketlab.train.cohort import Member, Progress, train_cohort


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
        synchronize(device)
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
            plain_step(net, opt, prunable, masks, xb.to(device), yb.to(device))
            synchronize(device)
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
