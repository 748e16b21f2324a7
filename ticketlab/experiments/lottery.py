"""The iterative-magnitude-pruning experiment: rounds, tickets, controls, resumption.

Round 0 trains the dense network. Every round r trains, for every seed, the winning ticket
(the original initial weights, or the weights at ``rewind_step``, under the round's mask) and
the configured controls (``controls.py``). Before pruning, the same ticket and controls are
also trained on every transfer dataset with every transfer setting (step 6 of the
reference). The trained main-dataset ticket's weights are then pruned to make round r+1's
mask. The round's trainings of all seeds and datasets go through the trainer in as few
cohorts as their settings allow: one per (optimiser setting, training-set size).

Data order: with ``experiment.data_order: per_round`` each round draws a fresh order from
(seed, round), so a ticket never retrains on the batch sequence that chose its mask; with
``fixed`` every round replays one order per seed (protocol 1). Within a round the ticket and
its controls share the order on every dataset, so their comparison is paired.

A branch (``api.branch``) is an Experiment that reads the masks and rewind weights of a base
run (``source``), trains only the trainings the base run does not have (``skip``) at chosen
rounds, and writes to its own state; it never trains a main-dataset ticket, so it never
prunes.

The experiment keeps no state of its own between trainings: it reads and writes through a
``RunState`` (the store implements it), so an interrupted run resumes at the training it was
in. Everything random is drawn from seeds derived from the run's seeds and recorded.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple, Protocol

import torch

from ticketlab.config import Config, TrainConfig
from ticketlab.data.datasets import Dataset
from ticketlab.device import check_precision
from ticketlab.errors import ConfigError, TicketlabError, warn
from ticketlab.experiments.controls import make_control
from ticketlab.experiments.records import FIELDS
from ticketlab.experiments.searches import (
    SEARCHED,
    SearchCost,
    Searcher,
    chain_cost,
    chain_mask,
)
from ticketlab.experiments.seeds import derive_seed
from ticketlab.models.mlp import MLPSpec
from ticketlab.models.params import Params
from ticketlab.models.registry import Architecture, architecture
from ticketlab.pruning.magnitude import (
    THIN,
    Mask,
    density,
    full_mask,
    layer_density,
    level_counts,
    prunable,
    prune,
    random_mask_like,
    schedule_collapse,
    units_without_inputs,
)
from ticketlab.pruning.sources import Context, find_mask, inverted_mask, mask_source
from ticketlab.train.cohort import (
    Checkpoint,
    EvalPoint,
    Member,
    Progress,
    TrainResult,
    refuse_bn_l1,
    train_cohort,
)


@dataclass(frozen=True)
class TrainingKey:
    round: int
    seed: int
    kind: str  # "ticket" or "control"
    control: str | None  # which control, None for the ticket
    dataset: str
    setting: str
    source: str | None = None  # a mask source and scope ("snip-layerwise"); None: IMP

    @property
    def id(self) -> str:
        who = self.kind if self.control is None else f"{self.kind}-{self.control}"
        where = f"{self.dataset}/{self.setting}"
        if self.source is not None:
            where += f"/{self.source}"
        return f"r{self.round:02d}/seed{self.seed}/{where}/{who}"


class TicketStart(NamedTuple):
    """A round's ticket before training: its starting weights (the original init, or the
    rewind point with late resetting) and the seed they were drawn from."""

    weights: Params
    init_seed: int


def ticket_start(spec: Architecture, cfg: Config, seed: int) -> TicketStart:
    """A seed's original initial weights (``inits/seed{S}/ticket``), drawn from its seed."""
    init_seed = derive_seed(seed, "init")
    return TicketStart(spec.init(cfg.model.init, init_seed, cfg.model.bn_init), init_seed)


def round_mask(state: RunState, spec: Architecture, cfg: Config, seed: int, r: int) -> Mask | None:
    """The mask round ``r`` trains under: every weight at round 0, else the one the round
    before saved in ``state`` (None when it is missing)."""
    if r == 0:
        return full_mask(spec, cfg.prune)
    mask = state.load_tensors(f"masks/seed{seed}/round{r:02d}")
    return None if mask is None else {k: v.bool() for k, v in mask.items()}


def round_ticket(
    state: RunState, spec: Architecture, cfg: Config, seed: int, r: int
) -> TicketStart | None:
    """The ticket's start at round ``r``: with late resetting, after round 0, the rewind
    weights saved in ``state`` (None when they are missing); else the original init."""
    start = ticket_start(spec, cfg, seed)
    if r > 0 and cfg.experiment.rewind_step > 0:
        rewound = state.load_tensors(f"inits/seed{seed}/rewind")
        return None if rewound is None else TicketStart(rewound, start.init_seed)
    return start


def control_file(seed: int, r: int, control: str) -> str:
    """Where a control's own tensors go: ``random_mask`` its mask (its weights are the
    ticket's), every other control its initial weights (its mask is the ticket's).
    ``inverted``'s mask is made from the round before's trained weights, like the round's
    own mask, and named like it (it cannot be drawn again from the seeds)."""
    if control == "inverted":
        return f"masks/seed{seed}/inverted_round{r:02d}"
    if control == "random_mask":
        return f"masks/seed{seed}/round{r:02d}-{control}"
    return f"inits/seed{seed}/round{r:02d}-{control}"


def control_start(
    spec: Architecture,
    cfg: Config,
    control: str,
    ticket: TicketStart,
    mask: Mask,
    seed: int,
    r: int,
) -> tuple[Params, Mask, int]:
    """A control's initial weights, mask and init seed at round ``r``, from the ticket's
    start, its mask and seeds derived from (seed, round, control): the same every time, so
    ``verify --repair`` rebuilds the saved ones bit for bit."""
    if control == "random_mask":  # the ticket's init; its mask keeps its old seed
        draw = derive_seed(seed, r, control)
        init, cmask = make_control(control, ticket.weights, mask, None, draw)
        return init, cmask, ticket.init_seed
    init_seed = derive_seed(seed, r, control)
    fresh = spec.init(cfg.model.init, init_seed, cfg.model.bn_init)
    draw = derive_seed(seed, r, control, "draw")
    init, cmask = make_control(control, ticket.weights, mask, fresh, draw)
    return init, cmask, init_seed


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
    mask_cost: tuple[float, int] | None = None  # a scoring source's (seconds, passes)
    mask_steps: int | None = None  # training steps spent finding the mask
    search: SearchCost | None = None  # an IMP source's searches (``searches.py``)

    def summary(self) -> dict[str, object]:
        """The stable per-training record (``ticketlab show --json``), its fields in the
        order of ``records.FIELDS`` (less ``finished_at``, which the store sets)."""
        es: EvalPoint = self.result.early_stop
        final = self.result.final
        values = {
            "round": self.key.round,
            "seed": self.key.seed,
            "kind": self.key.kind,
            "control": self.key.control,
            "source": self.key.source,
            "dataset": self.key.dataset,
            "setting": self.key.setting,
            "optimizer": self.train.optimizer,
            "lr": self.train.lr,
            "momentum": self.train.momentum,
            "batch_size": self.train.batch_size,
            "steps": self.total_steps,
            "precision": self.train.precision,
            "kernels": self.result.kernels or None,
            "weights_remaining": density(self.mask),
            "weights_remaining_per_layer": layer_density(self.mask),
            "units_without_inputs": units_without_inputs(self.mask),
            "final_test_acc": final.test_acc,
            "final_test_loss": final.test_loss,
            "final_val_acc": final.val_acc,
            "es_step": es.step,
            "es_test_acc": es.test_acc,
            "es_val_loss": es.val_loss,
            "sign_flip_final": final.sign_flip,
            "sign_flip_es": es.sign_flip,
            "sign_flips_final": final.sign_flips,
            "sign_flips_es": es.sign_flips,
            "wall_time_s": self.result.wall_time_s,
            "cohort_size": self.cohort_size,
            "init_seed": self.init_seed,
            "data_seed": self.data_seed,
            "mask_seconds": None if self.mask_cost is None else self.mask_cost[0],
            "mask_passes": None if self.mask_cost is None else self.mask_cost[1],
            "mask_steps": self.mask_steps,
            "search_epochs": None if self.search is None else self.search.epochs,
            "search_steps": None if self.search is None else self.search.steps,
            "search_examples": None if self.search is None else self.search.examples,
            "search_distance": None if self.search is None else self.search.distance,
            "frozen_test_acc": None if self.search is None else self.search.frozen_acc,
        }
        if self.search is not None:
            values["mask_seconds"] = self.search.total_seconds
            values["mask_steps"] = self.search.total_steps
        return {name: values[name] for name in FIELDS if name != "finished_at"}


class RunState(Protocol):
    """Persistent state the experiment reads and writes (implemented by the store)."""

    def completed(self) -> set[str]:
        """Ids of the trainings already recorded."""
        ...

    def load_tensors(self, name: str) -> dict[str, torch.Tensor] | None: ...

    def save_tensors(self, name: str, tensors: dict[str, torch.Tensor]) -> None: ...

    def checkpoint(self, key: str) -> Checkpoint:
        """Where the cohort ``key`` saves its training state mid-way."""
        ...

    def record(self, records: list[TrainingRecord]) -> None:
        """Record finished trainings atomically (all or none)."""
        ...


def in_trunk(cfg: Config, dataset: str, setting: str) -> bool:
    """Whether trainings on ``dataset`` under ``setting`` (a label) are the IMP trunk: the
    main dataset under ``train``. Only the trunk's tickets are pruned for the next round; a
    main-dataset training under another setting is a transfer like any other."""
    return dataset == cfg.data.dataset and setting == cfg.train.label()


def controls_at(cfg: Config, r: int) -> list[str]:
    """The controls trained at round ``r``. At round 0 the mask is full, so a random or
    inverted mask would be the ticket itself."""
    return [c for c in cfg.experiment.controls if not (r == 0 and c in ("random_mask", "inverted"))]


def trainings_of(cfg: Config) -> list[tuple[str, TrainConfig]]:
    """Every (dataset, optimiser setting) pair a round trains tickets and controls on: the
    main dataset with ``train``, then each transfer dataset with each transfer setting."""
    pairs = [(cfg.data.dataset, cfg.train)]
    for setting in cfg.transfer_settings():
        pairs += [(name, setting) for name in cfg.transfer.datasets]
    return pairs


def source_labels(cfg: Config) -> list[str]:
    """Every mask source as its trainings are labelled: a scoring source with each scope
    (``snip-layerwise``); a source whose masks searches make (IMP's cheaper variants, the
    learned masks) by its name, at IMP's per-tensor counts."""
    return [
        label
        for n in cfg.experiment.mask_sources
        for label in ([n] if n in SEARCHED else [f"{n}-{c}" for c in cfg.experiment.source_scopes])
    ]


def source_checks(cfg: Config, label: str) -> list[str]:
    """The sanity checks of a source's tickets. Searched sources have no scores to invert
    (a learned mask's are not kept); the random source has none: each check of a random
    mask is a random mask again."""
    if label.startswith("random-"):
        return []
    checks = cfg.experiment.source_checks
    return [c for c in checks if not (label in SEARCHED and c == "inverted")]


def last_level(cfg: Config) -> int:
    """The last round the run trains: IMP's, or, with scoring mask sources, the last level at
    which the schedule's common rate keeps at least ``source_min_density`` of the weights
    (IMP's levels extended; each level's counts are still per tensor, by kind)."""
    if all(s in SEARCHED for s in cfg.experiment.mask_sources):
        return cfg.prune.rounds
    keep = 1.0 - cfg.prune.round_rate()
    extended = math.floor(math.log(cfg.experiment.source_min_density) / math.log(keep) + 1e-9)
    return max(cfg.prune.rounds, extended)


def round_keys(cfg: Config, r: int, seed: int) -> list[tuple[TrainingKey, TrainConfig]]:
    """Round ``r``'s trainings of ``seed``: IMP's ticket and controls on every dataset and
    setting (up to ``prune.rounds``), and each mask source's ticket and sanity checks, also
    on every dataset and setting (levels 1 to ``last_level``)."""
    out = []
    for src in source_labels(cfg):
        if not 1 <= r <= (cfg.prune.rounds if src in SEARCHED else last_level(cfg)):
            continue
        for dataset, setting in trainings_of(cfg):
            label = setting.label()
            out.append((TrainingKey(r, seed, "ticket", None, dataset, label, src), setting))
            out += [
                (TrainingKey(r, seed, "control", c, dataset, label, src), setting)
                for c in source_checks(cfg, src)
            ]
    if r > cfg.prune.rounds:
        return out
    for dataset, setting in trainings_of(cfg):
        label = setting.label()
        out.append((TrainingKey(r, seed, "ticket", None, dataset, label), setting))
        out += [
            (TrainingKey(r, seed, "control", c, dataset, label), setting)
            for c in controls_at(cfg, r)
        ]
    return out


def all_rounds(cfg: Config) -> list[int]:
    return list(range(last_level(cfg) + 1))


def plan(
    cfg: Config, rounds: list[int] | None = None, skip: frozenset[str] = frozenset()
) -> list[TrainingKey]:
    """Every training of ``rounds`` (default: all) the run consists of, in order, less
    those in ``skip``."""
    return [
        k
        for r in (all_rounds(cfg) if rounds is None else rounds)
        for seed in cfg.seeds
        for k, _ in round_keys(cfg, r, seed)
        if k.id not in skip
    ]


def data_seed(cfg: Config, seed: int, r: int) -> int:
    """Seed of the data order of round ``r``'s trainings of ``seed``."""
    if cfg.experiment.data_order == "fixed":
        return derive_seed(seed, "data")
    return derive_seed(seed, "data", r)


@dataclass
class RoundProgress:
    round: int
    rounds: int
    labels: list[str]
    progress: Progress
    work_done: int  # member-steps done, this cohort's included (a resumed one's restored too)
    work_total: int  # member-steps this invocation has to do


@dataclass
class _Planned:
    key: TrainingKey
    train: TrainConfig
    member: Member
    init_seed: int
    mask_cost: tuple[float, int] | None = None
    mask_steps: int | None = None
    search: SearchCost | None = None


def scoring_batch(ds: Dataset, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` training images of every class, drawn by ``seed`` (class-balanced;
    the authors' code draws a batch whatever its classes), standardised as training sees
    them and shaped ``(N, C, H, W)``."""
    g = torch.Generator().manual_seed(derive_seed(seed, "score"))
    y = ds.train.y
    picks = []
    for c in range(ds.num_classes):
        idx = (y == c).nonzero().squeeze(1)
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    chosen = torch.cat(picks)
    x = ds.normalise(ds.train.x[chosen])  # the standardisation training uses
    return x.view(len(chosen), *ds.shape), y[chosen]


@dataclass
class Experiment:
    """Runs (or resumes) the IMP experiment of ``cfg`` over ``datasets`` (the main dataset
    and every transfer dataset, by name), reading and writing through ``state``."""

    cfg: Config
    datasets: dict[str, Dataset]
    state: RunState
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    on_progress: Callable[[RoundProgress], None] | None = None
    source: RunState | None = None  # a branch's base run: masks and rewind weights
    rounds: list[int] | None = None  # default: every round
    skip: frozenset[str] = frozenset()  # ids of trainings another run owns

    def __post_init__(self) -> None:
        self.base = self.source if self.source is not None else self.state
        main = self.datasets[self.cfg.data.dataset]
        for name, ds in self.datasets.items():
            if (ds.shape, ds.num_classes) != (main.shape, main.num_classes):
                raise TicketlabError(
                    f"dataset {name!r} has {ds.input_dim} inputs and {ds.num_classes} classes "
                    f"(images {ds.shape}); a ticket found on {main.name!r} needs "
                    f"{main.input_dim} and {main.num_classes} (images {main.shape}, "
                    f"data.input: {self.cfg.data.input})"
                )
        self.spec = architecture(self.cfg.model, main.shape, main.num_classes)
        augmented = [s.label() for _, s in trainings_of(self.cfg) if s.augment != "none"]
        if isinstance(self.spec, MLPSpec) and augmented:
            raise TicketlabError(
                f"{augmented[0]}: augmentation (random crop and flip) needs a convolutional "
                f"model; {self.cfg.model.name} reads flat inputs"
            )
        prunable(self.spec, self.cfg.prune)  # refuses unknown prune.ignore names up front
        for _, setting in trainings_of(self.cfg):
            check_precision(setting.precision, self.device)
            refuse_bn_l1(self.spec, setting, self.cfg.model.name)
        for name, setting in trainings_of(self.cfg):
            n = len(self.datasets[name].train)
            per_epoch = -(-n // setting.batch_size)
            if setting.milestones and setting.milestones[-1] * per_epoch >= setting.total_steps(n):
                raise ConfigError(
                    f"{setting.label()}: the learning-rate milestone at epoch "
                    f"{setting.milestones[-1]:g} is at or past the end of training on {name} "
                    f"({setting.total_steps(n)} steps of {per_epoch} an epoch): it would never "
                    "apply; give earlier milestones or more steps"
                )
            if setting.batch_size > n:
                warn(
                    f"batch size {setting.batch_size} ({setting.label()}) is larger than "
                    f"{name}'s training split of {n} examples: every step uses all {n} "
                    "(full-batch training)"
                )
        for name, (r, kept) in schedule_collapse(self.spec, self.cfg.prune).items():
            units = self.spec.shapes()[name][0]
            output = name == self.spec.output_name()
            warn(
                f"from round {r} on, {name} keeps {kept} weights for its {units} units (at "
                f"most {THIN} each): units are likely to lose every input"
                + (", and with them whole classes" if output else "")
                + (
                    "; prune.output_rate (e.g. 0.1, as in the frankle-carbin preset) spares the "
                    "output layer"
                    if output
                    else ""
                )
            )
        steps = self.cfg.train.total_steps(len(main.train))
        if self.cfg.experiment.rewind_step >= steps:
            raise TicketlabError(
                f"experiment.rewind_step ({self.cfg.experiment.rewind_step}) must be smaller "
                f"than the training length ({steps} steps)"
            )

    def _steps(self, p: _Planned) -> int:
        return p.train.total_steps(len(p.member.data.train))

    def run(self) -> None:
        done = self.state.completed() | self.skip
        rounds = last_level(self.cfg)
        todo = all_rounds(self.cfg) if self.rounds is None else self.rounds
        work_total = sum(
            t.total_steps(len(self.datasets[k.dataset].train))
            for r in todo
            for seed in self.cfg.seeds
            for k, t in round_keys(self.cfg, r, seed)
            if k.id not in done
        )
        work_done = 0
        for r in todo:
            # One cohort per (setting, training-set size): they share the step schedule.
            cohorts: dict[tuple[str, int], list[_Planned]] = {}
            for p in self._plan_round(r, done):
                cohorts.setdefault((p.key.setting, len(p.member.data.train)), []).append(p)
            for planned in cohorts.values():
                labels = [
                    f"{p.key.dataset}:{p.key.control or 'ticket'}/s{p.key.seed}" for p in planned
                ]

                def report(
                    prog: Progress,
                    r: int = r,
                    labels: list[str] = labels,
                    base: int = work_done,
                    n: int = len(planned),
                ) -> None:
                    if self.on_progress is not None:
                        self.on_progress(
                            RoundProgress(r, rounds, labels, prog, base + prog.step * n, work_total)
                        )

                ids = ",".join(sorted(p.key.id for p in planned))
                checkpoint = self.state.checkpoint(hashlib.sha256(ids.encode()).hexdigest()[:16])
                results = train_cohort(
                    [p.member for p in planned],
                    self.spec,
                    planned[0].train,
                    self.device,
                    report,
                    checkpoint=checkpoint,
                )
                work_done += sum(self._steps(p) for p in planned)
                self._finish(r, planned, results)
                checkpoint.clear()
            self._search(r)

    def _search(self, r: int) -> None:
        """Round ``r``'s searches (``searches.py``), after its trainings (their starts may
        need round 0's rewind weights). A branch never prunes."""
        chains = [s for s in self.cfg.experiment.mask_sources if s in SEARCHED]
        if self.source is not None or not chains:
            return
        main = self.datasets[self.cfg.data.dataset]
        searcher = Searcher(self.cfg, self.spec, main, self.state, self.device)
        todo = searcher.todo(r, chains)
        if todo:
            searcher.run(
                r,
                todo,
                lambda seed, at: self._ticket_init(seed, at).weights,
                lambda seed: data_seed(self.cfg, seed, r),
            )

    def _mask(self, seed: int, r: int) -> Mask:
        mask = round_mask(self.base, self.spec, self.cfg, seed, r)
        if mask is None:
            raise TicketlabError(
                f"round {r} of seed {seed} needs the mask made by round {r - 1}, which is "
                "missing from the run directory; the run is damaged (re-run into a new --out)"
            )
        return mask

    def _ticket_init(self, seed: int, r: int) -> TicketStart:
        start = round_ticket(self.base, self.spec, self.cfg, seed, r)
        if start is None:
            raise TicketlabError(
                f"seed {seed}: the rewind weights saved by round 0 are missing; the run is "
                "damaged (re-run into a new --out)"
            )
        if r == 0 and self.source is None:  # round 0 is planned before any other of the seed
            self.state.save_tensors(f"inits/seed{seed}/ticket", start.weights)
        return start

    def _inverted(self, seed: int, r: int) -> Mask:
        saved = self.base.load_tensors(control_file(seed, r, "inverted"))
        if saved is None:
            raise TicketlabError(
                f"the inverted control of round {r} (seed {seed}) needs the mask its round "
                "before made from its trained weights, which this run did not save (it did "
                "not train the control then); add `inverted` to experiment.controls of a new "
                "run, not of a branch or resumed run"
            )
        return {k: v.bool() for k, v in saved.items()}

    def _plan_round(self, r: int, done: set[str]) -> list[_Planned]:
        """The round's unfinished trainings. A control's init and mask are shared across
        datasets and settings and saved once (its weights under ``inits/``, a mask of its
        own under ``masks/``)."""
        planned = []
        for seed in self.cfg.seeds:
            todo = [(k, t) for k, t in round_keys(self.cfg, r, seed) if k.id not in done]
            planned += self._plan_sources(r, seed, [(k, t) for k, t in todo if k.source])
            keys = [(k, t) for k, t in todo if k.source is None]
            if not keys:
                continue
            mask = self._mask(seed, r)
            order_seed = data_seed(self.cfg, seed, r)
            ticket = self._ticket_init(seed, r)
            controls: dict[str, tuple[Params, Mask, int]] = {}
            for c in sorted({k.control for k, _ in keys if k.control is not None}):
                if c == "inverted":
                    controls[c] = (ticket.weights, self._inverted(seed, r), ticket.init_seed)
                    continue
                init, cmask, init_seed = control_start(
                    self.spec, self.cfg, c, ticket, mask, seed, r
                )
                saved = cmask if c == "random_mask" else init  # the other part is the ticket's
                self.state.save_tensors(control_file(seed, r, c), saved)
                controls[c] = (init, cmask, init_seed)
            for key, train in keys:
                data = self.datasets[key.dataset]
                if key.control is None:
                    capture = (
                        self.cfg.experiment.rewind_step
                        if r == 0 and in_trunk(self.cfg, key.dataset, key.setting)
                        else None
                    )
                    member = Member(ticket.weights, mask, data, order_seed, capture)
                    init_seed = ticket.init_seed
                else:
                    init, cmask, init_seed = controls[key.control]
                    member = Member(init, cmask, data, order_seed)
                spent = r * self.cfg.train.total_steps(
                    len(self.datasets[self.cfg.data.dataset].train)
                )
                planned.append(_Planned(key, train, member, init_seed, mask_steps=spent))
        return planned

    def _plan_sources(
        self, r: int, seed: int, keys: list[tuple[TrainingKey, TrainConfig]]
    ) -> list[_Planned]:
        """Each mask source's ticket (the seed's initial weights under the mask the source
        finds at level ``r``'s counts) and its sanity checks, on every dataset and setting,
        in the data order of the round's IMP trainings. The mask is found once, on the main
        dataset; a check's mask and init are the same on every dataset."""
        if not keys:
            return []
        cfg, main = self.cfg, self.datasets[self.cfg.data.dataset]
        planned = self._plan_chains(r, seed, [(k, t) for k, t in keys if k.source in SEARCHED])
        keys = [(k, t) for k, t in keys if k.source not in SEARCHED]
        if not keys:
            return planned
        ticket = ticket_start(self.spec, cfg, seed)
        full = full_mask(self.spec, cfg.prune)
        counts = level_counts(self.spec, cfg.prune, r)
        output = self.spec.output_name()
        apart = cfg.prune.output == "separate" and output in full
        pooled = [n for n in full if not (apart and n == output)]
        x, y = scoring_batch(main, cfg.experiment.source_batch_per_class, seed)
        order_seed = data_seed(cfg, seed, r)
        for label in dict.fromkeys(k.source for k, _ in keys):
            assert label is not None
            name, scope = label.rsplit("-", 1)
            ctx = Context(
                self.spec.apply, ticket.weights, main.shape, x, y, derive_seed(seed, r, label)
            )
            found = find_mask(mask_source(name), ctx, full, counts, scope, pooled)
            cost = (found.seconds, found.passes)
            starts: dict[str | None, tuple[Params, Mask, int]] = {}  # the same on every dataset
            for key, train in ((k, t) for k, t in keys if k.source == label):
                if key.control not in starts:
                    init, mask, init_seed = ticket.weights, found.mask, ticket.init_seed
                    draw = derive_seed(seed, r, label, key.control)
                    if key.control == "random_mask":
                        mask = random_mask_like(found.mask, draw)
                    elif key.control == "reinit":
                        init_seed = draw
                        init = self.spec.init(cfg.model.init, init_seed, cfg.model.bn_init)
                    elif key.control == "inverted":
                        mask = inverted_mask(found, full, scope, pooled, draw)
                    starts[key.control] = (init, mask, init_seed)
                init, mask, init_seed = starts[key.control]
                member = Member(init, mask, self.datasets[key.dataset], order_seed)
                planned.append(_Planned(key, train, member, init_seed, cost, 0))
        return planned

    def _plan_chains(
        self, r: int, seed: int, keys: list[tuple[TrainingKey, TrainConfig]]
    ) -> list[_Planned]:
        """A searched source's ticket at level ``r`` (the round's ticket start under the
        mask its searches made) and its sanity checks, on every dataset and setting, in the
        data order of the round's IMP trainings."""
        planned: list[_Planned] = []
        for label in dict.fromkeys(k.source for k, _ in keys):
            assert label is not None
            mask = chain_mask(self.base, self.spec, self.cfg, seed, label, r)
            cost = chain_cost(self.base, seed, label, r)
            if mask is None or cost is None:
                raise TicketlabError(
                    f"{label}: seed {seed}'s level-{r} mask or the record of the search that "
                    "made it is missing from the run directory; the run is damaged (re-run "
                    "into a new --out)"
                )
            ticket = self._ticket_init(seed, r)
            checks: dict[str, tuple[Params, Mask, int]] = {}  # the same on every dataset
            for key, train in ((k, t) for k, t in keys if k.source == label):
                init, cmask, init_seed = ticket.weights, mask, ticket.init_seed
                if key.control is not None:
                    if key.control not in checks:
                        checks[key.control] = control_start(
                            self.spec, self.cfg, key.control, ticket, mask, seed, r
                        )
                    init, cmask, init_seed = checks[key.control]
                data = self.datasets[key.dataset]
                member = Member(init, cmask, data, data_seed(self.cfg, seed, r))
                # A learned mask's frozen accuracy is of the main dataset, where it was learned.
                main = key.dataset == self.cfg.data.dataset
                own = cost if main else replace(cost, frozen_acc=None)
                planned.append(_Planned(key, train, member, init_seed, search=own))
        return planned

    def _finish(self, r: int, planned: list[_Planned], results: list[TrainResult]) -> None:
        """Save what the next round needs (masks, rewind weights), then record the cohort
        atomically. A crash between the two only means its trainings are redone."""
        for p, res in zip(planned, results, strict=True):
            trunk = in_trunk(self.cfg, p.key.dataset, p.key.setting) and p.key.source is None
            if p.key.kind != "ticket" or not trunk:
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
                    p.member.init,
                )
                self.state.save_tensors(f"masks/seed{seed}/round{r + 1:02d}", nxt)
                if "inverted" in self.cfg.experiment.controls:
                    inverted = prune(
                        res.weights,
                        p.member.mask,
                        self.spec,
                        self.cfg.prune,
                        derive_seed(seed, r, "prune", "inverted"),
                        p.member.init,
                        invert=True,
                    )
                    self.state.save_tensors(control_file(seed, r + 1, "inverted"), inverted)
        self.state.record(
            [
                TrainingRecord(
                    p.key,
                    p.train,
                    self._steps(p),
                    p.member.mask,
                    p.init_seed,
                    p.member.data_seed,
                    res,
                    len(planned),
                    p.mask_cost,
                    p.mask_steps,
                    p.search,
                )
                for p, res in zip(planned, results, strict=True)
            ]
        )
