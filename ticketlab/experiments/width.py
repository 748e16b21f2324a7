"""The strong lottery ticket hypothesis, measured: does a wide enough random network hide a
subnetwork as accurate as a trained narrow one?

Malach et al. 2020 (twice as deep, polynomially wider), Pensia et al. 2020 (a logarithmic
factor wider) prove that a random network contains a subnetwork approximating any given
target network. Here:

- **target**: a dense MLP of hidden widths ``base`` (784-100-100-10) trained normally (the
  run's ``train`` setting) per seed; its test accuracy at early stopping;
- **random networks** of hidden width c x each base width, at the same depth and at twice
  the depth, weights frozen: Kaiming normal N(0, 2/fan_in) or signed Kaiming constant
  +-sqrt(2/fan_in), biases zero (hidden-networks' layers have none);
- **subnetworks** found by ``edgepopup`` and ``biprop`` (``train.scores``) at each keep
  fraction, and at the parameter-matched keep fraction (as many kept weights as the
  target has weights);
- **baselines**: a random mask at the same keep fraction, untrained (the frozen network
  under it) and trained (its weights trained from the frozen draw, the target's setting);
- **the theorems' own statement**: with ``fit``, edge-popup's subnetwork fitted to the
  target network's logits (mean squared error) instead of the labels; its output error on
  the test split against width.

Conv nets (``model``: ``conv2``, ``conv4`` or ``conv6``): the target is Conv-N, the random
networks Conv-N with every channel count and hidden unit count times c (Ramanujan et al.
2020's ``width_mult``), at the same depth only (twice the depth is the MLP theorems'
construction; a deeper Conv-N is another model, not a doubled one).

Every number is a row (``Row``) of one seed; ``cells`` lists what a plan trains, so a run
resumes by skipping the rows it has. Widths are not paired by seed in any meaningful way,
so the page compares each cell with the target by Welch's interval over seeds
(``analysis.stats.welch``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from ticketlab.config import ModelConfig, TrainConfig
from ticketlab.data.datasets import Dataset
from ticketlab.errors import ConfigError
from ticketlab.experiments.seeds import derive_seed
from ticketlab.models.mlp import MLPSpec
from ticketlab.models.params import Params
from ticketlab.models.registry import Architecture, architecture
from ticketlab.pruning.magnitude import full_mask, random_mask_like
from ticketlab.train.cohort import Checkpoint, Member, train_cohort
from ticketlab.train.evaluate import evaluate
from ticketlab.train.scores import (
    ScoreMember,
    kaiming_uniform_scores,
    score_setting,
    train_scores,
)

INITS = ("kaiming_normal", "signed_constant")
CONV = ("conv2", "conv4", "conv6")
MATCHED = "matched"  # the keep fraction of a cell with as many kept weights as the target


@dataclass(frozen=True)
class WidthPlan:
    seeds: tuple[int, ...] = (0, 1, 2)
    base: tuple[int, ...] = (100, 100)
    widths: tuple[int, ...] = (1, 2, 4, 8, 16)
    deep_widths: tuple[int, ...] = (1, 2, 4, 8)  # twice the depth
    methods: tuple[str, ...] = ("edgepopup", "biprop")
    keeps: tuple[float, ...] = (0.1, 0.3, 0.5)
    inits: tuple[str, ...] = INITS
    epochs: int = 20
    score_lr: float = 1.0
    fit: bool = True  # edge-popup fitted to the target's logits, first init, every keep
    model: str = "mlp"  # hidden widths ``base``, or a Conv-N of CONV (``base`` unused)

    def __post_init__(self) -> None:
        if self.model != "mlp" and self.model not in CONV:
            raise ConfigError(
                f"width test model {self.model!r}: choose mlp or one of {', '.join(CONV)}"
            )
        if self.model != "mlp" and self.deep_widths:
            raise ConfigError(
                f"width test of {self.model}: twice the depth is built for the MLP only; "
                "give no deep widths (--deep-widths with no value)"
            )


@dataclass(frozen=True)
class Cell:
    """One thing trained or evaluated for every seed: ``kind`` is ``target``,
    ``subnetwork``, ``fit``, ``random_untrained`` or ``random_trained``."""

    kind: str
    depth: int = 0  # hidden layers
    width: int = 0  # the multiple c of the base widths
    init: str = ""
    method: str = ""
    keep: float | str = 0.0  # a fraction, or "matched"

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.depth}/{self.width}/{self.init}/{self.method}/{self.keep}"


@dataclass
class Row:
    cell: str  # Cell.key
    kind: str
    depth: int
    width: int
    init: str
    method: str
    keep: float  # the fraction kept (the matched one resolved)
    matched: bool
    seed: int
    hidden: list[int]
    kept_weights: int
    test_acc: float
    fit_mse: float | None
    wall_s: float


def hidden_of(plan: WidthPlan, depth: int, width: int) -> list[int]:
    """Hidden widths of a random network: the base widths times ``width``, repeated to
    ``depth`` layers (twice the depth: each base width twice)."""
    times = depth // len(plan.base)
    return [w * width for w in plan.base for _ in range(times)]


def base_depth(plan: WidthPlan) -> int:
    """Hidden layers of the target: the MLP's base widths, or Conv-N's N convolutions and
    two hidden fully connected layers."""
    return len(plan.base) if plan.model == "mlp" else int(plan.model[4:]) + 2


def arch_of(plan: WidthPlan, depth: int, width: int, data: Dataset) -> Architecture:
    """The network of a cell (the target: ``base_depth``, width 1)."""
    if plan.model == "mlp":
        return MLPSpec((data.input_dim, *hidden_of(plan, depth, width), data.num_classes))
    return architecture(ModelConfig(name=plan.model, width=width), data.shape, data.num_classes)


def hidden_units(spec: Architecture) -> list[int]:
    """Each hidden layer's width: output channels of a convolution, units of a linear one."""
    shapes = spec.shapes()
    return [shapes[k][0] for k in spec.weight_names()[:-1]]


def weights_of(spec: Architecture) -> int:
    shapes = spec.shapes()
    return sum(math.prod(shapes[k]) for k in spec.weight_names())


def cells(plan: WidthPlan) -> list[Cell]:
    """Everything the plan trains, target first, cheapest widths first."""
    out = [Cell("target")]
    shapes = [(base_depth(plan), c) for c in plan.widths]
    shapes += [(2 * len(plan.base), c) for c in plan.deep_widths]
    for depth, c in sorted(shapes, key=lambda s: (s[1], s[0])):
        for init in plan.inits:
            for keep in plan.keeps:
                out += [Cell("random_untrained", depth, c, init, "", keep)]
                out += [Cell("random_trained", depth, c, init, "", keep)]
            for method in plan.methods:
                out += [Cell("subnetwork", depth, c, init, method, k) for k in plan.keeps]
                out.append(Cell("subnetwork", depth, c, init, method, MATCHED))
            if plan.fit and init == plan.inits[0]:
                out += [Cell("fit", depth, c, init, "edgepopup", k) for k in plan.keeps]
    return out


def frozen_weights(spec: Architecture, init: str, seed: int) -> Params:
    """Kaiming normal N(0, 2/fan_in) or signed Kaiming constant +-sqrt(2/fan_in) weights
    (fan_in: a unit's inputs, a convolution's in-channels x kernel size), zero biases."""
    g = torch.Generator().manual_seed(seed)
    weights = set(spec.weight_names())
    out: Params = {}
    for k, shape in spec.shapes().items():
        if k not in weights:
            out[k] = torch.zeros(shape)
            continue
        std = math.sqrt(2.0 / math.prod(shape[1:]))
        w = torch.randn(shape, generator=g) * std
        out[k] = w if init == "kaiming_normal" else w.sign() * std
    return out


def run_width(
    plan: WidthPlan,
    train: TrainConfig,
    data: Dataset,
    device: torch.device,
    done: set[tuple[str, int]],
    save: Callable[[list[Row]], None],
    targets: dict[int, Params] | None = None,
    checkpoint: Callable[[str], Checkpoint] | None = None,
) -> Iterator[Cell]:
    """Train every cell of ``plan`` not in ``done`` ((cell key, seed) pairs), the seeds of a
    cell as one cohort, handing each cell's rows to ``save``; yields each cell as it
    starts. ``checkpoint(key)`` gives a score training somewhere to save its state
    mid-way (the widest take hours). ``targets`` (seed -> trained target weights) are
    filled on the way: the target cell trains them; ``fit`` cells need them (a resumed run
    trains them again, unsaved)."""
    targets = {} if targets is None else targets
    target_spec = arch_of(plan, base_depth(plan), 1, data)
    target_weights = weights_of(target_spec)
    # The target starts as its model's runs do: the seed preset's MLP, quick-conv's Conv-N.
    target_init = "pytorch_default" if plan.model == "mlp" else "kaiming_normal"
    score_cfg = score_setting(train, plan.score_lr, plan.epochs)
    every = cells(plan)
    fits_left = any((c.key, s) not in done for c in every if c.kind == "fit" for s in plan.seeds)
    for cell in every:
        seeds = [s for s in plan.seeds if (cell.key, s) not in done]
        if cell.kind == "target":
            seeds = [
                s
                for s in plan.seeds
                if (cell.key, s) not in done or (fits_left and s not in targets)
            ]
        if not seeds:
            continue
        yield cell
        start = time.perf_counter()
        if cell.kind == "target":
            need = seeds
            members = [
                Member(
                    target_spec.init(target_init, derive_seed(s, "width-target")),
                    full_mask(target_spec),
                    data,
                    derive_seed(s, "width-data"),
                )
                for s in need
            ]
            trained = train_cohort(members, target_spec, train, device)
            wall = (time.perf_counter() - start) / len(members)
            rows = []
            for s, res in zip(need, trained, strict=True):
                targets[s] = res.weights
                if (cell.key, s) not in done:
                    acc = res.early_stop.test_acc
                    base = hidden_units(target_spec)
                    rows.append(_row(cell, s, base, 1.0, False, target_weights, acc, None, wall))
            save(rows)
            continue
        spec = arch_of(plan, cell.depth, cell.width, data)
        hidden = hidden_units(spec)
        total = weights_of(spec)
        matched = cell.keep == MATCHED
        keep = min(1.0, target_weights / total) if matched else float(cell.keep)
        counts = {k: round(keep * math.prod(spec.shapes()[k])) for k in spec.weight_names()}
        kept = sum(counts.values())
        frozen = {
            s: frozen_weights(
                spec, cell.init, derive_seed(s, "width", cell.depth, cell.width, cell.init)
            )
            for s in seeds
        }
        order = {s: derive_seed(s, "width-data", cell.key) for s in seeds}
        if cell.kind.startswith("random"):
            shapes = spec.shapes()
            counted = {  # a mask with the counts; the draw places them at random
                k: (torch.arange(math.prod(shapes[k])) < n).view(shapes[k])
                for k, n in counts.items()
            }
            masks = {
                s: random_mask_like(counted, derive_seed(s, "width-mask", cell.key)) for s in seeds
            }
            if cell.kind == "random_untrained":
                accs = [
                    evaluate(spec, _masked(frozen[s], masks[s]), data, device=device)[1]
                    for s in seeds
                ]
            else:
                members = [Member(frozen[s], masks[s], data, order[s]) for s in seeds]
                accs = [r.early_stop.test_acc for r in train_cohort(members, spec, train, device)]
            wall = (time.perf_counter() - start) / len(seeds)
            save(
                [
                    _row(cell, s, hidden, keep, matched, kept, a, None, wall)
                    for s, a in zip(seeds, accs, strict=True)
                ]
            )
            continue
        score_members = [
            ScoreMember(
                frozen[s],
                {
                    k: kaiming_uniform_scores(
                        spec.shapes()[k], derive_seed(s, "width-scores", cell.key)
                    )
                    for k in counts
                },
                counts,
                data,
                order[s],
            )
            for s in seeds
        ]
        teachers = (target_spec, [targets[s] for s in seeds]) if cell.kind == "fit" else None
        saving = None if checkpoint is None else checkpoint(f"{cell.key}/{seeds}")
        results = train_scores(
            score_members,
            spec,
            score_cfg,
            cell.method,
            device,
            teachers=teachers,
            checkpoint=saving,
        )
        wall = (time.perf_counter() - start) / len(seeds)
        save(
            [
                _row(cell, s, hidden, keep, matched, kept, r.evals[-1].test_acc, r.fit_mse, wall)
                for s, r in zip(seeds, results, strict=True)
            ]
        )
        if saving is not None:
            saving.clear()


def _masked(weights: Params, mask: dict[str, torch.Tensor]) -> Params:
    return {k: v * mask[k] if k in mask else v for k, v in weights.items()}


def _row(
    cell: Cell,
    seed: int,
    hidden: list[int],
    keep: float,
    matched: bool,
    kept: int,
    acc: float,
    fit_mse: float | None,
    wall: float,
) -> Row:
    return Row(
        cell.key,
        cell.kind,
        cell.depth,
        cell.width,
        cell.init,
        cell.method,
        keep,
        matched,
        seed,
        hidden,
        kept,
        acc,
        fit_mse,
        wall,
    )
