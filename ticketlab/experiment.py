"""The iterative-magnitude-pruning experiment: rounds, tickets, controls, resumption.

Round 0 trains the dense network. Every round r trains, for every seed, the winning ticket
(the original initial weights, or the weights at ``rewind_step``, under the round's mask) and
the configured controls under the same mask: ``reinit`` (fresh random weights from a
recorded seed) and ``random_mask`` (original weights, a random mask with the same per-layer
counts). The trained ticket's weights are then pruned to make round r+1's mask. All the
round's trainings of all seeds go through the trainer as one cohort.

The experiment keeps no state of its own between trainings: it reads and writes through a
``RunState`` (the store implements it), so an interrupted run resumes at the training it was
in. Everything random is drawn from seeds derived from the run's seeds and recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch

from .config import Config, TrainConfig
from .data import Dataset
from .model import MLPSpec, Params, init_params
from .pruning import Mask, density, full_mask, layer_density, prune, random_mask_like
from .trainer import EvalPoint, Member, Progress, TrainResult, train_cohort


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, stable across Python versions and machines."""
    blob = "/".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") >> 1


def setting_label(cfg: TrainConfig) -> str:
    """Short name of an optimiser setting, e.g. ``adam lr=0.0012``."""
    label = f"{cfg.optimizer} lr={cfg.lr:g}"
    if cfg.optimizer == "sgd" and cfg.momentum:
        label += f" momentum={cfg.momentum:g}"
    return label


@dataclass(frozen=True)
class TrainingKey:
    round: int
    seed: int
    kind: str  # "ticket" or "control"
    control: str | None  # which control, None for the ticket
    dataset: str
    setting: str

    @property
    def id(self) -> str:
        who = self.kind if self.control is None else f"{self.kind}-{self.control}"
        return f"r{self.round:02d}/seed{self.seed}/{self.dataset}/{self.setting}/{who}"


@dataclass
class TrainingRecord:
    """Everything kept about one finished training."""

    key: TrainingKey
    train: TrainConfig
    total_steps: int
    mask: Mask
    init_seed: int
    data_seed: int
    result: TrainResult
    cohort_size: int

    def summary(self) -> dict[str, object]:
        """The stable per-training record (``ticketlab show --json``)."""
        es: EvalPoint = self.result.early_stop
        final = self.result.final
        return {
            "round": self.key.round,
            "seed": self.key.seed,
            "kind": self.key.kind,
            "control": self.key.control,
            "dataset": self.key.dataset,
            "setting": self.key.setting,
            "optimizer": self.train.optimizer,
            "lr": self.train.lr,
            "momentum": self.train.momentum,
            "batch_size": self.train.batch_size,
            "steps": self.total_steps,
            "weights_remaining": density(self.mask),
            "weights_remaining_per_layer": layer_density(self.mask),
            "final_test_acc": final.test_acc,
            "final_test_loss": final.test_loss,
            "final_val_acc": final.val_acc,
            "es_step": es.step,
            "es_test_acc": es.test_acc,
            "es_val_loss": es.val_loss,
            "wall_time_s": self.result.wall_time_s,
            "cohort_size": self.cohort_size,
            "init_seed": self.init_seed,
            "data_seed": self.data_seed,
        }


class RunState(Protocol):
    """Persistent state the experiment reads and writes (implemented by the store)."""

    def completed(self) -> set[str]:
        """Ids of the trainings already recorded."""
        ...

    def load_tensors(self, name: str) -> dict[str, torch.Tensor] | None: ...

    def save_tensors(self, name: str, tensors: dict[str, torch.Tensor]) -> None: ...

    def record(self, records: list[TrainingRecord]) -> None:
        """Record finished trainings atomically (all or none)."""
        ...


def controls_at(cfg: Config, r: int) -> list[str]:
    """The controls trained at round ``r``. At round 0 the mask is full, so a random mask
    would be the ticket itself."""
    return [c for c in cfg.experiment.controls if not (r == 0 and c == "random_mask")]


def round_keys(cfg: Config, r: int, seed: int) -> list[TrainingKey]:
    setting = setting_label(cfg.train)
    return [TrainingKey(r, seed, "ticket", None, cfg.data.dataset, setting)] + [
        TrainingKey(r, seed, "control", c, cfg.data.dataset, setting) for c in controls_at(cfg, r)
    ]


def plan(cfg: Config) -> list[TrainingKey]:
    """Every training the full run consists of, in order."""
    rounds = range(cfg.prune.rounds + 1)
    return [k for r in rounds for seed in cfg.seeds for k in round_keys(cfg, r, seed)]


@dataclass
class RoundProgress:
    round: int
    rounds: int
    labels: list[str]
    progress: Progress
    work_done: int  # member-steps finished in this invocation, this cohort included
    work_total: int  # member-steps this invocation has to do


@dataclass
class _Planned:
    key: TrainingKey
    member: Member
    init_seed: int


@dataclass
class Experiment:
    cfg: Config
    data: Dataset
    state: RunState
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    on_progress: Callable[[RoundProgress], None] | None = None

    def __post_init__(self) -> None:
        self.spec = MLPSpec.from_config(self.cfg.model, self.data.input_dim, self.data.num_classes)
        self.steps = self.cfg.train.total_steps(len(self.data.train))
        if self.cfg.experiment.rewind_step >= self.steps:
            raise ValueError(
                f"experiment.rewind_step ({self.cfg.experiment.rewind_step}) must be smaller "
                f"than the training length ({self.steps} steps)"
            )

    def run(self) -> None:
        done = self.state.completed()
        todo = [k for k in plan(self.cfg) if k.id not in done]
        work_total = len(todo) * self.steps
        work_done = 0
        for r in range(self.cfg.prune.rounds + 1):
            planned = self._plan_round(r, done)
            if not planned:
                continue
            labels = [
                f"{p.key.kind}{'' if p.key.control is None else ':' + p.key.control}/s{p.key.seed}"
                for p in planned
            ]

            def report(
                p: Progress,
                r: int = r,
                labels: list[str] = labels,
                base: int = work_done,
                n: int = len(planned),
            ) -> None:
                if self.on_progress is not None:
                    self.on_progress(
                        RoundProgress(
                            r, self.cfg.prune.rounds, labels, p, base + p.step * n, work_total
                        )
                    )

            results = train_cohort(
                [p.member for p in planned], self.spec, self.cfg.train, self.device, report
            )
            work_done += len(planned) * self.steps
            self._finish_round(r, planned, results)

    def _mask(self, seed: int, r: int) -> Mask:
        if r == 0:
            return full_mask(self.spec)
        mask = self.state.load_tensors(f"masks/seed{seed}/round{r:02d}")
        if mask is None:
            raise RuntimeError(
                f"round {r} of seed {seed} needs the mask made by round {r - 1}, which is "
                "missing from the run directory; the run is damaged (re-run into a new --out)"
            )
        return {k: v.bool() for k, v in mask.items()}

    def _ticket_init(self, seed: int, r: int) -> tuple[Params, int]:
        init_seed = derive_seed(seed, "init")
        if r > 0 and self.cfg.experiment.rewind_step > 0:
            rewound = self.state.load_tensors(f"inits/seed{seed}/rewind")
            if rewound is None:
                raise RuntimeError(
                    f"seed {seed}: the rewind weights saved by round 0 are missing; the run is "
                    "damaged (re-run into a new --out)"
                )
            return rewound, init_seed
        params = init_params(self.spec, self.cfg.model.init, init_seed)
        if self.state.load_tensors(f"inits/seed{seed}/ticket") is None:
            self.state.save_tensors(f"inits/seed{seed}/ticket", params)
        return params, init_seed

    def _plan_round(self, r: int, done: set[str]) -> list[_Planned]:
        planned = []
        for seed in self.cfg.seeds:
            keys = round_keys(self.cfg, r, seed)
            if all(k.id in done for k in keys):
                continue
            mask = self._mask(seed, r)
            data_seed = derive_seed(seed, "data")
            for key in keys:
                if key.id in done:
                    continue
                if key.control is None:
                    init, init_seed = self._ticket_init(seed, r)
                    capture = self.cfg.experiment.rewind_step if r == 0 else None
                    member = Member(init, mask, self.data, data_seed, capture)
                elif key.control == "reinit":
                    init_seed = derive_seed(seed, r, "reinit")
                    init = init_params(self.spec, self.cfg.model.init, init_seed)
                    self.state.save_tensors(f"inits/seed{seed}/round{r:02d}-reinit", init)
                    member = Member(init, mask, self.data, data_seed)
                else:
                    init, init_seed = self._ticket_init(seed, r)
                    rmask = random_mask_like(mask, derive_seed(seed, r, "random_mask"))
                    self.state.save_tensors(f"masks/seed{seed}/round{r:02d}-random_mask", rmask)
                    member = Member(init, rmask, self.data, data_seed)
                planned.append(_Planned(key, member, init_seed))
        return planned

    def _finish_round(self, r: int, planned: list[_Planned], results: list[TrainResult]) -> None:
        """Save what the next round needs (masks, rewind weights), then record atomically.
        A crash between the two only means the trainings are redone on resume."""
        for p, res in zip(planned, results, strict=True):
            if p.key.kind != "ticket":
                continue
            seed = p.key.seed
            if r == 0 and self.cfg.experiment.rewind_step > 0:
                assert res.captured is not None
                self.state.save_tensors(f"inits/seed{seed}/rewind", res.captured)
            if r < self.cfg.prune.rounds:
                nxt = prune(
                    res.weights,
                    p.member.mask,
                    self.spec,
                    self.cfg.prune,
                    derive_seed(seed, r, "prune"),
                )
                self.state.save_tensors(f"masks/seed{seed}/round{r + 1:02d}", nxt)
        self.state.record(
            [
                TrainingRecord(
                    p.key,
                    self.cfg.train,
                    self.steps,
                    p.member.mask,
                    p.init_seed,
                    p.member.data_seed,
                    res,
                    len(planned),
                )
                for p, res in zip(planned, results, strict=True)
            ]
        )
