"""The Python API: everything the CLI does, callable from a notebook.

import ticketlab
cfg = ticketlab.load_config(preset_name="quick", overrides=["train.lr=3e-3"], seeds=[0, 1, 2])
run = ticketlab.run(cfg, out="runs/my-run", data_dir="../shared/data")
rows = run.summaries()          # one dict per finished training
ticketlab.plot(run.path)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ticketlab import device as devices
from ticketlab.analysis import width as width_page
from ticketlab.analysis.masks import OverlapRow, keep_maps, overlaps
from ticketlab.analysis.overlap import Overlap
from ticketlab.analysis.overlap import overlap as mask_overlap
from ticketlab.analysis.report import write_report
from ticketlab.analysis.verdicts import Comparison, GapShare, Options, compare
from ticketlab.analysis.verdicts import arm as verdict_arm
from ticketlab.analysis.verdicts import compare_arms as verdict_compare_arms
from ticketlab.analysis.verdicts import gap_shares as verdict_gap_shares
from ticketlab.bench import run_bench, run_conv_bench
from ticketlab.config import PRUNE_CRITERIA, Config, DataConfig, TrainConfig, branch_config
from ticketlab.data.datasets import Dataset, display, load_dataset
from ticketlab.data.paths import data_roots
from ticketlab.errors import DamagedFile, TicketlabError
from ticketlab.experiments.lottery import (
    Experiment,
    RoundProgress,
    all_rounds,
    control_file,
    control_start,
    in_trunk,
    plan,
    round_mask,
    round_ticket,
    ticket_start,
)
from ticketlab.experiments.supermasks import (
    DENSITIES,
    KEEP_FRACTIONS,
    LEARNED,
    Supermask,
    dense_training,
    learned_groups,
    learned_supermasks,
)
from ticketlab.experiments.supermasks import supermasks as find_supermasks
from ticketlab.experiments.width import WidthPlan, cells, run_width
from ticketlab.models.registry import architecture, display_model, import_path
from ticketlab.progress import ProgressBar
from ticketlab.store.environment import environment
from ticketlab.store.files import FileCheckpoint, atomic_write_text, exclusive, held, sweep_stale
from ticketlab.store.rundir import FIGURES_INDEX, RunDir
from ticketlab.store.verify import (
    Finding,
    check,
    expected_tensors,
    rebuild_database,
    tensor_findings,
)
from ticketlab.tracking import Tracker

RUNS_ROOT = Path("runs")


def load_datasets(
    cfg: Config, data_dir: str | Path | None = None, download: bool = True
) -> dict[str, Dataset]:
    """The main dataset and every transfer dataset, each split and standardised by
    ``cfg.data`` (CPU tensors)."""
    return {
        name: load_dataset(cfg.data, data_dir, download, name=name, maxgroup_cfg=cfg.maxgroup)
        for name in cfg.datasets()
    }


def default_run_dir(cfg: Config, root: Path = RUNS_ROOT) -> Path:
    return root / f"{cfg.name}-{cfg.identity_hash()}"


def run(
    cfg: Config,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    download: bool = True,
    on_progress: Callable[[RoundProgress], None] | None = None,
    make_figures: bool = True,
    progress: bool = True,
    model: Callable[..., torch.nn.Module] | None = None,
    tracker: Tracker | None = None,
) -> RunDir:
    """Run (or resume) the experiment of ``cfg`` into ``out``; returns the run directory.
    Progress shows as a bar (a widget in Jupyter) unless ``on_progress`` is given or
    ``progress`` is False. ``model``: a factory of your own ``nn.Module`` (called with
    ``input_shape`` and ``num_classes`` where it takes them), recorded in the config by its
    import path, so it must be importable (defined in a module, not in a notebook cell).
    A finished run is left as it is. A run directory whose config differs from ``cfg`` only
    by having fewer seeds gets ``cfg``'s other seeds added, and trains only those.
    ``tracker`` (``tracking.make_tracker``) logs every training to MLflow as its cohort is
    recorded, and the figures at the end."""
    if model is not None:
        cfg = dataclasses.replace(
            cfg, model=dataclasses.replace(cfg.model, name=import_path(model))
        ).validate()
    devices.resolve(cfg.device)  # refused before a run directory is made (see RunDir.create)
    if data_dir is not None:
        data_roots(data_dir)
    run_dir = RunDir.create(out if out is not None else default_run_dir(cfg), cfg)
    trained = _execute(run_dir, data_dir, download, on_progress, progress, tracker)
    if make_figures and (trained or not run_dir.figures_done()):
        plot(run_dir.path)
    if tracker is not None:
        tracker.log(run_dir)
    return run_dir


def _execute(
    run_dir: RunDir,
    data_dir: str | Path | None,
    download: bool,
    on_progress: Callable[[RoundProgress], None] | None,
    progress: bool,
    tracker: Tracker | None = None,
) -> bool:
    """Train what ``run_dir`` (a run or a branch) still lacks, recording each invocation's
    environment, timings and memory in its ``run.json``; False if nothing was left. Without
    an ``on_progress`` callback, ``progress`` shows a progress bar (``ticketlab/progress.py``)."""
    bar = ProgressBar() if on_progress is None and progress else None
    try:
        return _train(run_dir, data_dir, download, on_progress or bar, tracker)
    finally:
        if bar is not None:
            bar.close()


def _train(
    run_dir: RunDir,
    data_dir: str | Path | None,
    download: bool,
    on_progress: Callable[[RoundProgress], None] | None,
    tracker: Tracker | None = None,
) -> bool:
    with run_dir.lock():
        run_dir.save_seeds()
        run_dir.sync()
        cfg = run_dir.config
        if run_dir.status()["status"] == "complete":
            return False
        device = devices.resolve(cfg.device)
        meta = run_dir.meta()
        if data_dir is None:
            data_dir = run_dir.recorded_data_dir()
        entry: dict[str, Any] = {
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "environment": environment(device),
            "resumed_from": run_dir.status(),
            # An explicit data folder (the only place looked in), so that resume and branch
            # look there again from the directory alone; null: $TICKETLAB_DATA and the cache.
            "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
        }
        meta["invocations"].append(entry)
        run_dir.write_meta(meta)
        entry["rss_before_data_mb"] = _peak_rss_mb()
        t0 = time.perf_counter()
        datasets = load_datasets(cfg, data_dir, download)
        entry["data_load_s"] = round(time.perf_counter() - t0, 3)
        entry["datasets"] = {
            name: {
                "train": len(d.train),
                "val": len(d.val),
                "test": len(d.test),
                "mean": d.mean,
                "std": d.std,
                "classes": d.num_classes,
            }
            for name, d in datasets.items()
        }
        entry["dataset_mb"] = round(sum(d.nbytes for d in datasets.values()) / 2**20)
        check_fits(datasets, device)
        datasets = {name: d.to(device) for name, d in datasets.items()}
        try:
            experiment = Experiment(
                cfg,
                datasets,
                run_dir if tracker is None else _Logged(run_dir, tracker),
                device,
                _reporting(run_dir, on_progress),
                source=run_dir.base,
                rounds=run_dir.rounds,
                skip=run_dir.skip,
            )
            _check_model(meta, experiment, run_dir)
            run_dir.write_meta(meta)
            experiment.run()
            entry["outcome"] = "complete"
        except BaseException as e:
            entry["outcome"] = f"stopped: {type(e).__name__}"
            raise
        finally:
            entry["wall_time_s"] = round(time.perf_counter() - t0, 3)
            entry["peak_rss_mb"] = _peak_rss_mb()
            if device.type == "cuda":
                entry["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
            entry["ended_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            run_dir.write_meta(meta)
        return True


class _Logged:
    """A run directory that logs its trainings to a tracker as each cohort is recorded."""

    def __init__(self, run_dir: RunDir, tracker: Tracker) -> None:
        self._run_dir, self._tracker = run_dir, tracker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run_dir, name)

    def record(self, records: list[Any]) -> None:
        self._run_dir.record(records)
        self._tracker.log(self._run_dir)


def check_fits(datasets: dict[str, Dataset], device: torch.device) -> None:
    """Data are tensor-resident on the training device, and a cohort over several datasets
    gathers from one concatenation of their training splits (a second copy of them): refuse
    data that would not fit up front, rather than fail out of memory mid-run."""
    need = sum(d.nbytes for d in datasets.values())
    need += sum(d.train.x.numel() * d.train.x.element_size() for d in datasets.values())
    free = devices.available_memory(device)
    if need > free:
        sizes = ", ".join(f"{n} {d.nbytes / 2**20:,.0f} MiB" for n, d in datasets.items())
        raise TicketlabError(
            f"the datasets need about {need / 2**20:,.0f} MiB on {device} ({sizes}, plus a "
            f"copy of the training splits), and {free / 2**20:,.0f} MiB are available; use "
            "data.train_subset, fewer transfer datasets, or a device with more memory"
        )


def _check_model(meta: dict[str, Any], experiment: Experiment, run_dir: RunDir) -> None:
    """Record the model's name and signature (a hash of its tensors' names and shapes), and
    refuse to resume a run whose module has changed since it began (e.g. a user's factory
    edited between invocations): its saved masks and weights would not fit."""
    model = {"name": experiment.cfg.model.name, "signature": experiment.spec.signature()}
    before = meta.get("model")
    if before is not None and before["signature"] != model["signature"]:
        raise TicketlabError(
            f"model {model['name']}: its parameters' names and shapes changed since "
            f"{run_dir.path} began (signature {before['signature']}, now "
            f"{model['signature']}); restore the module or start a new run with another --out"
        )
    meta["model"] = model


def branch(
    run_path: str | Path,
    overrides: list[str] | tuple[str, ...],
    rounds: list[int] | None = None,
    name: str = "branch",
    data_dir: str | Path | None = None,
    download: bool = True,
    on_progress: Callable[[RoundProgress], None] | None = None,
    progress: bool = True,
) -> RunDir:
    """Train more controls, transfer datasets or transfer settings (``overrides`` of
    ``config.BRANCH_KEYS``) on the saved masks and inits of the run in ``run_path``, at
    ``rounds`` (default: all). The branch is a run directory of its own under
    ``RUN/branches/<name>-<hash>/``; it resumes like a run, trains only what the run itself
    does not, and never writes into the run's own records."""
    base = RunDir.open(run_path)
    if base.base is not None:
        raise TicketlabError(f"{base.path} is a branch; branch its base run {base.base.path}")
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise TicketlabError(f"branch name {name!r}: use letters, digits, '-', '_' or '.'")
    cfg = branch_config(base.config, overrides)
    todo = all_rounds(cfg) if rounds is None else sorted(set(rounds))
    if not set(todo) <= set(all_rounds(cfg)):
        raise TicketlabError(f"rounds must lie between 0 and {cfg.prune.rounds}, got {todo}")
    if not plan(cfg, todo, base.skip_for_branches()):
        raise TicketlabError(
            f"the branch ({'; '.join(overrides) or 'no overrides'}) adds nothing the run "
            "trains already; set experiment.controls, transfer.datasets or transfer.settings "
            "to something new"
        )
    _check_base(base, todo)
    # The branch follows the base run's seeds. ("seeds": None keeps the digests of the
    # branches made before identity_but_seeds existed.)
    ident = cfg.identity_but_seeds() | {"seeds": None}
    digest = hashlib.sha256(json.dumps([ident, todo], sort_keys=True).encode()).hexdigest()
    path = base.path / "branches" / f"{name}-{digest[:8]}"
    bd = RunDir.create(path, cfg)
    if bd.base is None:  # new (or killed before it was marked a branch)
        bd.write_branch(base.path, todo, list(overrides))
        bd = RunDir(path, bd.config, bd.new_seeds)
    _execute(bd, data_dir, download, on_progress, progress)
    return bd


def _check_base(base: RunDir, rounds: list[int]) -> None:
    """A branch needs the base run's mask of every round it trains (made by the round
    before) and, with late resetting, the rewind weights."""
    cfg = base.config
    for seed in cfg.seeds:
        missing = [
            r for r in rounds if r > 0 and not base.has_tensors(f"masks/seed{seed}/round{r:02d}")
        ]
        if cfg.experiment.rewind_step > 0 and not base.has_tensors(f"inits/seed{seed}/rewind"):
            missing = rounds
        if missing:
            raise TicketlabError(
                f"{base.path} is incomplete for this branch: seed {seed} has no mask yet for "
                f"round(s) {', '.join(map(str, missing))} (each made when the round before "
                f"finishes). Finish the run (`ticketlab resume {base.path}`) or branch at "
                "earlier rounds (--rounds)."
            )


def resume(
    run_path: str | Path,
    data_dir: str | Path | None = None,
    download: bool = True,
    on_progress: Callable[[RoundProgress], None] | None = None,
    progress: bool = True,
) -> RunDir:
    """Resume the run in ``run_path`` with the config it was made with."""
    cfg = RunDir.open(run_path).config
    return run(cfg, run_path, data_dir, download, on_progress, progress=progress)


PROGRESS_EVERY_S = 30.0


def _reporting(
    run_dir: RunDir,
    on_progress: Callable[[RoundProgress], None] | None,
    clock: Callable[[], float] = time.perf_counter,
) -> Callable[[RoundProgress], None]:
    """``on_progress``, also writing where the run is to ``RUN/progress.json`` at every new
    round and every ``PROGRESS_EVERY_S`` seconds, for ``show`` and ``ls`` in other
    processes."""
    start = clock()
    last = [-PROGRESS_EVERY_S, -1.0]  # time and round of the last write
    # Time and work done at the first report. A cohort resumed from its checkpoint first
    # reports the steps the checkpoint restored, which took no time in this invocation: the
    # rate is measured from there.
    first: list[float] = []

    def report(p: RoundProgress) -> None:
        if on_progress is not None:
            on_progress(p)
        now = clock() - start
        if not first:
            first.extend((now, p.work_done))
        spent, done = now - first[0], p.work_done - first[1]
        if now - last[0] >= PROGRESS_EVERY_S or p.round != last[1]:
            last[0], last[1] = now, p.round
            run_dir.write_progress(
                {
                    "round": p.round,
                    "rounds": p.rounds,
                    "work_done": p.work_done,
                    "work_total": p.work_total,
                    "elapsed_s": round(now, 1),
                    "eta_s": round(spent / done * (p.work_total - p.work_done), 1)
                    if done > 0 and spent > 0
                    else None,
                    "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
            )

    return report


def _peak_rss_mb() -> int:
    """The process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def plot(run_path: str | Path) -> list[Path]:
    """(Re)draw the run's figures into ``RUN_DIR/figures``."""
    rd = RunDir.open(run_path)
    return _draw(rd, overlaps(rd))


def _draw(rd: RunDir, own: list[OverlapRow]) -> list[Path]:
    """The figures of ``rd``, with its mask overlaps ``own`` (between its seeds and against
    large_init) computed by the caller, who may report them too."""
    # matplotlib on first use: importing it costs every command, `--help` included.
    from ticketlab.analysis.figures import (
        cost_figure,
        figure1,
        figure2,
        keep_map_figure,
        oneshot_figure,
        overlap_figure,
        sign_flip_figure,
        sources_figure,
        supermask_figure,
    )

    sweep_stale(rd.path)
    everything = rd.summaries()
    if not everything:
        raise TicketlabError(f"{rd.path} has no finished trainings to plot yet")
    rows = [r for r in everything if not r.get("source")]  # IMP's: the mask sources apart
    main, out = rd.config.data.dataset, rd.path / "figures"
    trunk = rd.config.train.label()
    what = f"{display_model(rd.config.model.name)} tickets found on {display(main)}"
    oneshot = rd.path / SUPERMASKS_FILE
    drawn = json.loads(oneshot.read_text()) if oneshot.is_file() else []
    paths = (
        figure1(rows, main, trunk, out, rd.config.model.name)
        + figure2(rows, main, trunk, out)
        + sign_flip_figure(rows, main, out)
        + keep_map_figure(
            keep_maps(rd),
            f"First layer: each input pixel's share of kept outgoing weights, over the "
            f"layer's; {what}, mean of {len(rd.config.seeds)} seed(s)",
            out / "keep-maps",
        )
        + overlap_figure(
            own,
            f"Mask overlap (Jaccard; chance in brackets): {what}",
            out / "mask-overlap",
        )
        + supermask_figure(
            [r for r in rows if in_trunk(rd.config, r["dataset"], r["setting"])],
            f"Supermask accuracy of {what}",
            out / "supermask",
        )
        + oneshot_figure(drawn, f"One-shot supermasks, {what}", out / "supermasks-oneshot")
        + sources_figure(everything, out / "mask-sources")
        + cost_figure(everything, out / "mask-cost")
    )
    index = json.dumps([p.name for p in paths], indent=1) + "\n"
    atomic_write_text(out / FIGURES_INDEX, index)  # last: the drawing finished
    return paths


def report(
    run_path: str | Path | list[str | Path],
    correction: str = "holm",
    pool_rounds: tuple[int, int] | None = None,
    disconnected: str = "exclude",
    arms: list[tuple[str, str]] | None = None,
    out: str | Path | None = None,
) -> list[Path]:
    """Redraw the figures and write ``report.html`` and ``report.md`` into the run, or, for
    several runs (a list), one page over all of them into ``out``. The page's pooled tests
    (accuracy and sign flips of every comparison) are one family and its per-level tests
    another, each adjusted with ``correction`` (``holm`` or ``bh``); ``pool_rounds``
    (inclusive) is the range of rounds the pooled verdict averages over (default: every
    pruned level, rounds 1 and up); ``disconnected`` (``exclude`` or ``keep``): whether
    levels where a network lost a whole class or layer stay out of it; ``arms``: pairs of
    arms (``ticket`` or a control) to compare directly, first minus second."""
    paths = run_path if isinstance(run_path, list) else [run_path]
    if not paths:
        raise TicketlabError("report: name at least one run directory")
    if len(paths) > 1 and out is None:
        raise TicketlabError(
            f"a report over {len(paths)} runs needs a folder to write it to: give --out DIR"
        )
    options = Options(correction, pool_rounds, disconnected=disconnected)
    runs = [RunDir.open(p) for p in paths]
    own = [overlaps(run) for run in runs]
    figures = [f for run, rows in zip(runs, own, strict=True) for f in _draw(run, rows)]
    known = {verdict_arm(r) for run in runs for r in run.summaries()} if arms else set()
    for a, b in arms or []:
        missing = [x for x in (a, b) if x not in known]
        if missing:
            raise TicketlabError(
                f"--arms {a}:{b}: no records of {', '.join(missing)} in "
                f"{', '.join(map(str, paths))} (arms there: {', '.join(sorted(known))})"
            )
    folder = Path(out) if out is not None else None
    pairs: list[OverlapRow] = []
    if folder is not None:
        from ticketlab.analysis.figures import overlap_figure

        folder.mkdir(parents=True, exist_ok=True)
        for i, first in enumerate(runs):
            for second in runs[i + 1 :]:
                pairs += overlaps(first, second)
        figures += overlap_figure(
            pairs,
            "Mask overlap between the runs (Jaccard; chance in brackets)",
            folder / "figures" / "mask-overlap-runs",
        )
    mine = [r for rows in own for r in rows]
    return write_report(runs, figures, options, arms, folder, [*pairs, *mine])


def gap_shares(
    run_path: str | Path, reference: str = "reinit", pool_rounds: tuple[int, int] | None = None
) -> list[GapShare]:
    """For every control beside ``reference`` in the run and its branches, the share of the
    ticket's lead over ``reference`` that it closes (pooled over ``pool_rounds``, default
    every pruned level), with Fieller's 95% interval (``analysis.verdicts.gap_shares``)."""
    rows = RunDir.open(run_path).summaries()
    return verdict_gap_shares(
        compare(rows, "es_test_acc", Options(pool_rounds=pool_rounds)), reference
    )


def compare_arms(
    run_path: str | Path,
    first: str,
    second: str,
    metric: str = "es_test_acc",
    correction: str = "holm",
    pool_rounds: tuple[int, int] | None = None,
) -> list[Comparison]:
    """Two arms of a run and its branches (``ticket`` or any control) compared directly,
    ``first`` minus ``second`` paired by seed, per level and pooled, for every dataset and
    setting that has both (``analysis.verdicts.compare_arms``); e.g. ``reshuffle`` against
    ``signed_reinit``."""
    rows = RunDir.open(run_path).summaries()
    return verdict_compare_arms(rows, first, second, metric, Options(correction, pool_rounds))


def overlap(
    run_a: str | Path, run_b: str | Path, round: int, seeds: list[int] | None = None
) -> dict[int, tuple[dict[str, Overlap], Overlap]]:
    """Per seed the two runs share (or ``seeds``), the Jaccard similarity of their tickets'
    masks at ``round`` per tensor and overall, beside the chance level of independent masks
    of the same densities (``analysis.overlap``)."""
    a, b = RunDir.open(run_a), RunDir.open(run_b)
    out = {}
    for seed in seeds if seeds is not None else sorted(set(a.config.seeds) & set(b.config.seeds)):
        name = f"masks/seed{seed}/round{round:02d}"
        ma, mb = a.load_tensors(name), b.load_tensors(name)
        if ma is None or mb is None:
            raise TicketlabError(f"seed {seed} has no mask of round {round} in both runs")
        out[seed] = mask_overlap(ma, mb)
    return out


SUPERMASKS_FILE = "supermasks.json"


def supermasks(
    run_path: str | Path,
    criteria: tuple[str, ...] | None = None,
    densities: tuple[float, ...] | None = None,
    data_dir: str | Path | None = None,
    download: bool = True,
    learned: tuple[str, ...] = (),
    keep_fractions: tuple[float, ...] | None = None,
    score_lr: float | None = None,
    score_epochs: int | None = None,
) -> list[Supermask]:
    """Supermasks (Zhou et al. 2019) for the run's seeds: each seed's dense network
    trained once more (round 0's initial weights and data order), then every criterion's
    mask at every density on its untrained initial weights (original and signed constant),
    evaluated on the test split. With ``learned`` methods (edgepopup, biprop, bernoulli),
    masks are also trained on the same frozen starts, edge-popup and biprop at each of
    ``keep_fractions`` (default 0.5 0.3 0.1), one cohort each, scores trained at
    ``score_lr`` for ``score_epochs`` (default: the run's ``experiment`` keys); a finished
    cohort is kept in the file (rows of other methods and settings too), so an interrupted
    call resumes after it. Written to ``RUN/supermasks.json``;
    ``plot`` draws them."""
    rd = RunDir.open(run_path)
    cfg = rd.config
    unknown = [c for c in criteria or () if c not in PRUNE_CRITERIA]
    if unknown:
        raise TicketlabError(
            f"supermasks: unknown criteria {', '.join(unknown)}; choose from "
            f"{', '.join(PRUNE_CRITERIA)}"
        )
    wrong = [m for m in learned if m not in LEARNED]
    if wrong:
        raise TicketlabError(
            f"supermasks: unknown learned methods {', '.join(wrong)}; choose from "
            f"{', '.join(LEARNED)}"
        )
    if score_lr is not None and not score_lr > 0:
        raise TicketlabError(f"supermasks: the score learning rate must be > 0, got {score_lr}")
    if score_epochs is not None and score_epochs < 1:
        raise TicketlabError(f"supermasks: score epochs must be >= 1, got {score_epochs}")
    setting = (
        cfg.experiment.score_lr if score_lr is None else score_lr,
        cfg.experiment.score_epochs if score_epochs is None else score_epochs,
    )
    bad = [d for d in (*(densities or ()), *(keep_fractions or ())) if not 0 < d <= 1]
    if bad:
        raise TicketlabError(
            f"supermasks: densities and keep fractions must lie in (0, 1], got {bad}"
        )
    data = load_dataset(
        cfg.data,
        data_dir if data_dir is not None else rd.recorded_data_dir(),
        download,
        name=cfg.data.dataset,
        maxgroup_cfg=cfg.maxgroup,
    )
    spec = architecture(cfg.model, data.shape, data.num_classes)
    device = devices.resolve(cfg.device)
    trained = dense_training(spec, cfg, data, list(cfg.seeds), device)
    found = find_supermasks(
        spec, cfg, data, trained, criteria or PRUNE_CRITERIA, densities or DENSITIES
    )
    path = rd.path / SUPERMASKS_FILE
    before = json.loads(path.read_text()) if path.is_file() else []
    # Learned rows of earlier calls stay (they cost score training); a group asked again
    # is trained again only if some seed lacks it.
    # Rows written before the setting was recorded were trained at the run's own keys.
    own = {"score_lr": cfg.experiment.score_lr, "score_epochs": cfg.experiment.score_epochs}
    kept = [
        Supermask(**(r | {k: v for k, v in own.items() if r.get(k) is None}))
        for r in before
        if r.get("learned")
    ]

    def write() -> None:
        rows = [dataclasses.asdict(s) for s in [*found, *kept]]
        atomic_write_text(path, json.dumps(rows, indent=1) + "\n")

    for method, keep in learned_groups(learned, keep_fractions or KEEP_FRACTIONS):

        def mine(s: Supermask, method: str = method, keep: float | None = keep) -> bool:
            same = (s.score_lr, s.score_epochs) == setting
            return same and s.criterion == method and (keep is None or s.density == keep)

        if {s.seed for s in kept if mine(s)} != set(cfg.seeds):
            ck = rd.checkpoint(f"supermask-{method}-{keep}-{setting[0]:g}-{setting[1]}")
            group = learned_supermasks(
                spec, cfg, data, list(cfg.seeds), device, (method, keep), setting, ck
            )
            kept = [s for s in kept if not mine(s)] + group
            write()
            ck.clear()
    write()
    found += kept
    plot(rd.path)
    return found


WIDTH_ROWS = "width.json"
WIDTH_RUN = "width-run.json"
WIDTH_PAGE = "width.md"
# The plan's lists of cells: a later invocation into the same folder may give others (every
# cell's rows depend on the cell, the seed and the rest of the plan only).
WIDTH_GROWS = ("widths", "deep_widths", "inits", "keeps", "methods")


def width(
    out: str | Path,
    plan: WidthPlan | None = None,
    train: TrainConfig | None = None,
    data: DataConfig | None = None,
    data_dir: str | Path | None = None,
    device: str = "auto",
    on_cell: Callable[[str, int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """The strong-ticket width test (``experiments/width.py``) into the folder ``out``:
    every row in ``width.json`` (written after each cell, so the same call resumes), the
    plan, training setting, versions and commit in ``width-run.json``, the page in
    ``width.md``. A folder made with another plan is refused, but for the lists of cells
    (``WIDTH_GROWS``): a later call may add widths, inits, keep fractions or methods, and
    trains only the cells the folder lacks. ``on_cell(key, done, total)`` is told of each
    cell as it starts. One command at a time writes into a folder (``RunLocked`` for a
    second: two would write their rows over each other's)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive(out):
        return _width(out, plan, train, data, data_dir, device, on_cell)


def _width(
    out: Path,
    plan: WidthPlan | None,
    train: TrainConfig | None,
    data: DataConfig | None,
    data_dir: str | Path | None,
    device: str,
    on_cell: Callable[[str, int, int], None] | None,
) -> list[dict[str, Any]]:
    plan = plan or WidthPlan()
    train = train or Config().train
    data = data or DataConfig()
    dev = devices.resolve(device)
    identity = json.loads(  # as it reads back from the file (tuples as lists)
        json.dumps(
            {
                "plan": dataclasses.asdict(plan),
                "train": dataclasses.asdict(train),
                "data": dataclasses.asdict(data),
            }
        )
    )
    meta = out / WIDTH_RUN
    before = json.loads(meta.read_text()) if meta.is_file() else identity

    def fixed(ident: dict[str, Any]) -> dict[str, Any]:
        """What every invocation into one folder shares: all but the cells' lists."""
        plan_ = {k: v for k, v in (ident.get("plan") or {}).items() if k not in WIDTH_GROWS}
        return {k: ident.get(k) for k in identity} | {"plan": plan_}

    if fixed(before) != fixed(identity):
        raise TicketlabError(
            f"{out} holds a width test of another plan, training setting or data; give "
            f"another folder, or the same options as before to resume it (only "
            f"{', '.join('--' + k.replace('_', '-') for k in WIDTH_GROWS)} may change)"
        )
    runs = before.get("invocations", [])
    runs.append(
        {
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "plan": identity["plan"],
            **environment(dev),
        }
    )
    atomic_write_text(meta, json.dumps(identity | {"invocations": runs}, indent=1) + "\n")
    path = out / WIDTH_ROWS
    rows = width_rows(out)
    done = {(r["cell"], r["seed"]) for r in rows}
    dataset = load_dataset(data, data_dir).to(dev)
    preamble = (
        f"Made by `ticketlab width` into `{out.name}`; plan, training setting, versions and "
        f"commit of each invocation in `{WIDTH_RUN}`."
    )

    def save(new: list[Any]) -> None:
        rows.extend(dataclasses.asdict(r) for r in new)
        atomic_write_text(path, json.dumps(rows, indent=1) + "\n")
        atomic_write_text(out / WIDTH_PAGE, width_page.markdown(rows, preamble))

    def checkpoint(key: str) -> FileCheckpoint:
        name = hashlib.sha256(key.encode()).hexdigest()[:16]
        return FileCheckpoint(out / "checkpoints" / f"{name}.pt")

    total = len(cells(plan))
    cells_run = run_width(plan, train, dataset, dev, done, save, checkpoint=checkpoint)
    for i, cell in enumerate(cells_run):
        if on_cell is not None:
            on_cell(cell.key, i, total)
    # The figure once, at the end (a few seconds to draw); the page then links it.
    from ticketlab.analysis.figures import width_figure

    figure = bool(width_figure(width_page.cells(rows), out / "width"))
    atomic_write_text(out / WIDTH_PAGE, width_page.markdown(rows, preamble, figure=figure))
    return rows


def export(run_path: str | Path, dest: str | Path | None = None) -> list[Path]:
    """Write the run's metrics as CSV and JSON into ``dest`` (default ``RUN_DIR/export``)."""
    rd = RunDir.open(run_path)
    dest = Path(dest) if dest is not None else rd.path / "export"
    if dest.is_dir():
        sweep_stale(dest)
    return rd.export(dest)


def verify(
    run_path: str | Path, repair: bool = False, data_dir: str | Path | None = None
) -> list[Finding]:
    """Check every file of the run in ``run_path`` and of its branches against its checksum
    and the records (``store.verify``): what is intact, unchecked, missing, damaged or
    rebuildable. With ``repair``, under the run's lock, rebuild what can be rebuilt without
    training (the database from the journal, initial weights and random masks from the
    seeds, figures, reports and exports from the records), then check again. ``data_dir``:
    where the main dataset is (its shape rebuilds the initial weights; default: where the
    run found it)."""
    findings, rd = check(run_path)
    if not repair or rd is None or not any(f.bad for f in findings):
        return findings
    run_dirs = [rd, *rd.branches()]
    with contextlib.ExitStack() as locks:
        for d in run_dirs:
            locks.enter_context(d.lock())
        bad = {f.path for f in findings if f.state == "rebuildable"}
        rebuilt = False
        for d in run_dirs:
            if d.checksums.path in bad:
                d.checksums.rewrite()
            if d.path / "metrics.sqlite" in bad:
                rebuild_database(d)
                rebuilt = True
        if rebuilt:  # the rebuilt records name files the first check could not know of
            bad |= {
                f.path for d in run_dirs for f in tensor_findings(d) if f.state == "rebuildable"
            }
        for d in run_dirs:
            names = [n for n in expected_tensors(d) if d.path / f"{n}.safetensors" in bad]
            if names:
                _rebuild_tensors(d, names, data_dir)
    main = Path(run_path)
    if (main / "report.html").exists():
        report(main)  # the figures too
    elif (main / "figures").exists():
        plot(main)
    if (main / "export").exists():
        export(main)
    return check(run_path)[0]


def _rebuild_tensors(rd: RunDir, names: list[str], data_dir: str | Path | None) -> None:
    """Draw the ticket's initial weights and the controls' files of ``names`` again from
    the seeds, exactly as the run drew them (``experiments.lottery``)."""
    cfg = rd.config
    base = rd.base or rd
    data = load_dataset(
        cfg.data,
        data_dir if data_dir is not None else rd.recorded_data_dir(),
        name=cfg.data.dataset,
        maxgroup_cfg=cfg.maxgroup,
    )
    spec = architecture(cfg.model, data.shape, data.num_classes)
    for name in names:
        _, seed_part, file = name.split("/")
        seed = int(seed_part.removeprefix("seed"))
        if file == "ticket":
            rd.save_tensors(name, ticket_start(spec, cfg, seed).weights)
            continue
        rnd, control = file.removeprefix("round").split("-", 1)
        r = int(rnd)
        ticket = round_ticket(base, spec, cfg, seed, r)
        mask = round_mask(base, spec, cfg, seed, r)
        if ticket is None or mask is None:
            continue  # what it is made from is gone: verify says so
        init, cmask, _ = control_start(spec, cfg, control, ticket, mask, seed, r)
        assert name == control_file(seed, r, control)
        rd.save_tensors(name, cmask if control == "random_mask" else init)


CROSSOVER_DENSITIES = [0.5, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02, 0.01]


def bench(
    cohorts: list[int],
    densities: list[float],
    steps: int = 100,
    device: str = "auto",
    data_dir: str | Path | None = None,
    baseline: bool = True,
    crossover: bool = False,
    compiled: bool = False,
    conv: list[str] | None = None,
    conv_cohorts: tuple[int, ...] = (1, 4, 8),
    conv_steps: int = 10,
    scores: bool = False,
    bf16: bool = False,
) -> dict[str, Any]:
    """Measure training throughput on MNIST (see ``bench.py``); 100% density is always
    included as the reference. ``crossover`` adds the dense/sparse crossover table,
    ``compiled`` dense rows with the training step through ``torch.compile``, ``conv``
    rows for those models (on CIFAR-10 as stored) against a plain loop, ``scores`` score
    training (edge-popup, biprop) against dense weight training, ``bf16`` rows trained with
    ``train.precision: bf16`` (refused where the processor has no bfloat16)."""
    for d in densities:
        if not 0 < d <= 1:
            raise TicketlabError(f"densities must be in (0, 1], got {d}")
    if any(c < 1 for c in cohorts) or steps < 1:
        raise TicketlabError("cohort sizes and --steps must be at least 1")
    dev = devices.resolve(device)
    data = load_dataset(DataConfig(), data_dir).to(dev)
    dens = sorted({1.0, *densities}, reverse=True)
    cross = CROSSOVER_DENSITIES if crossover else None
    if bf16:
        devices.check_precision("bf16", dev, "bench --bf16: train")
    result = run_bench(data, dev, cohorts, dens, steps, baseline, cross, compiled, scores, bf16)
    if conv:
        cifar = load_dataset(DataConfig(dataset="cifar10", input="native"), data_dir).to(dev)
        result["conv"] = run_conv_bench(cifar, dev, conv, list(conv_cohorts), conv_steps)
    return result


def list_runs(root: str | Path = RUNS_ROOT) -> list[dict[str, Any]]:
    """Every run directory directly under ``root`` with its status and headline number, and
    every width-test folder with its rows done and the target's accuracy."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if (p / WIDTH_RUN).is_file():
            out.append(_width_status(p))
            continue
        if not (p / "config.yaml").is_file():
            continue
        try:
            rd = RunDir.open(p)
            rd.meta()  # checked against its digest: a damaged run is listed as such
            branches = [{"name": b.path.name, **_live(b)} for b in rd.branches()]
            out.append(
                {
                    "path": str(p),
                    "name": rd.config.name,
                    **_live(rd),
                    **headline(rd),
                    "branches": branches,
                }
            )
            rd.close()
        except DamagedFile as e:  # listed as damaged, the others still listed
            out.append({"path": str(p), "status": "damaged", "damage": str(e.path)})
    return out


def width_rows(folder: str | Path) -> list[dict[str, Any]]:
    """A width-test folder's rows (``width.json``; none before its first cell)."""
    path = Path(folder) / WIDTH_ROWS
    rows: list[dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else []
    return rows


def _width_status(folder: Path) -> dict[str, Any]:
    """A width-test folder as ``list_runs`` lists it: the rows its latest plan asks for and
    how many it holds, complete, running (a command holds its lock) or incomplete."""
    try:
        saved: dict[str, Any] = json.loads((folder / WIDTH_RUN).read_text())["plan"]
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()
        }
        plan = WidthPlan(**fields)
        rows = width_rows(folder)
    except (OSError, ValueError, KeyError, TypeError):
        return {"path": str(folder), "status": "damaged", "damage": WIDTH_RUN}
    wanted = {(c.key, s) for c in cells(plan) for s in plan.seeds}
    done = len(wanted & {(r["cell"], r["seed"]) for r in rows})
    target = [r["test_acc"] for r in rows if r["kind"] == "target"]
    return {
        "path": str(folder),
        "name": "width test",
        "status": "width test, "
        + ("complete" if done == len(wanted) else "running" if held(folder) else "incomplete"),
        "trainings_done": done,
        "trainings_total": len(wanted),
        "branches": [],
    } | ({"dense_test_acc": sum(target) / len(target)} if target else {})


def _live(rd: RunDir) -> dict[str, Any]:
    """Status, and for a running run its ETA (seconds, an upper estimate) if it has one."""
    st = rd.live_status()
    progress = rd.progress() if st["status"] == "running" else None
    return st | {"eta_s": progress["eta_s"] if progress else None}


def headline(rd: RunDir) -> dict[str, Any]:
    """Dense accuracy and the sparsest ticket's accuracy (means over seeds)."""
    tickets = [
        r
        for r in rd.own_summaries()
        if r["kind"] == "ticket"
        and in_trunk(rd.config, r["dataset"], r["setting"])
        and not r.get("source")
    ]
    if not tickets:
        return {}

    def mean_at(rnd: int) -> float:
        vals = [r["es_test_acc"] for r in tickets if r["round"] == rnd]
        return sum(vals) / len(vals)

    last = max(r["round"] for r in tickets)
    return {
        "dense_test_acc": mean_at(0),
        "sparsest_round": last,
        "sparsest_weights_remaining": next(
            r["weights_remaining"] for r in tickets if r["round"] == last
        ),
        "sparsest_ticket_test_acc": mean_at(last),
    }
