"""The ``ticketlab`` command: a thin layer over ``ticketlab.api``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

import ticketlab.api as api
import ticketlab.sweeps as sweeps
from ticketlab.analysis.verdicts import ticket_layers
from ticketlab.bench import format_bench
from ticketlab.config import PRESETS, Config, display_setting, load_config
from ticketlab.errors import TicketlabError, install_hint
from ticketlab.store.rundir import RunDir
from ticketlab.tracking import TRACKERS, make_tracker
from ticketlab.version import __version__


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="a YAML config file (see `ticketlab config`)")
    p.add_argument("--preset", help=f"a preset: {', '.join(PRESETS)}")
    p.add_argument("--seeds", type=int, nargs="+", help="replicate seeds, e.g. --seeds 0 1 2")
    _set_arg(p, "override one config value, e.g. --set train.lr=3e-3 (repeatable)")
    p.add_argument("--device", help="auto (CUDA if available), cpu or cuda")


def _set_arg(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )


def _resolve(args: argparse.Namespace) -> Config:
    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"device={args.device}")
    preset = args.preset if args.preset or args.config else "quick"
    return load_config(
        args.config,
        preset_name=preset if not args.config else None,
        overrides=overrides,
        seeds=args.seeds,
    )


def parse_rounds(text: str, last: int, option: str = "--rounds") -> list[int]:
    """``0,2,4``, ``3-7`` (inclusive), ``0-20:2`` (every second) or a mix, as sorted rounds
    between 0 and ``last``."""
    rounds: set[int] = set()
    for part in text.split(","):
        try:
            span, _, step = part.strip().partition(":")
            lo, _, hi = span.partition("-")
            a, b = int(lo), int(hi) if hi else int(lo)
            rounds.update(range(a, b + 1, int(step) if step else 1))
        except ValueError:
            raise TicketlabError(
                f"{option} {text!r}: expected rounds like 0,2,4 or 0-20 or 0-20:2"
            ) from None
    bad = sorted(r for r in rounds if not 0 <= r <= last)
    if bad or not rounds:
        raise TicketlabError(f"{option} {text!r}: rounds must lie between 0 and {last}")
    return sorted(rounds)


def _announce(path: Path, cfg: Any | None = None) -> None:
    """Say that a run resumes, and where (when ``path`` holds an unfinished run of ``cfg``)."""
    if not (path / "config.yaml").is_file():
        return
    rd = RunDir.open(path)
    if cfg is not None and rd.config.identity_but_seeds() != cfg.identity_but_seeds():
        return  # a different config: the run will be refused with the differences named
    st = rd.status()
    if st["status"] == "complete" and (cfg is None or set(cfg.seeds) <= set(rd.config.seeds)):
        print(
            f"nothing to do: the run is complete ({st['trainings_done']} trainings); "
            "its table follows",
            file=sys.stderr,
        )
    elif st["status"] == "interrupted":
        print(
            f"resuming at round {st['next_round']} ({st['trainings_done']} of "
            f"{st['trainings_total']} trainings done)",
            file=sys.stderr,
        )


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _resolve(args)
    out = args.out or api.default_run_dir(cfg)
    print(f"run directory: {out}", file=sys.stderr)
    _announce(Path(out), cfg)
    tracker = make_tracker(args.log, args.log_uri, Path(out).parent)
    rd = api.run(
        cfg,
        out,
        data_dir=args.data_dir,
        download=not args.no_download,
        progress=not args.quiet,
        tracker=tracker,
    )
    if tracker is not None:
        print(f"logged to {args.log}: {tracker.uri}", file=sys.stderr)
    print(_table(rd))
    print(f"figures: {rd.path / 'figures'}", file=sys.stderr)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    _announce(Path(args.run_dir))
    rd = api.resume(
        args.run_dir, data_dir=args.data_dir, download=not args.no_download, progress=not args.quiet
    )
    print(_table(rd))
    return 0


def cmd_branch(args: argparse.Namespace) -> int:
    base = RunDir.open(args.run_dir)
    rounds = None if args.rounds is None else parse_rounds(args.rounds, base.config.prune.rounds)
    bd = api.branch(
        args.run_dir,
        args.overrides,
        rounds,
        args.name,
        data_dir=args.data_dir,
        download=not args.no_download,
        progress=not args.quiet,
    )
    print(f"branch: {bd.path}", file=sys.stderr)
    print(_table(bd))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    sys.stdout.write(_resolve(args).to_yaml())
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    for p in api.plot(args.run_dir):
        print(p)
    return 0


def cmd_supermasks(args: argparse.Namespace) -> int:
    found = api.supermasks(
        args.run_dir,
        tuple(args.criteria) if args.criteria else None,
        tuple(args.densities) if args.densities else None,
        args.data_dir,
        not args.no_download,
        learned=() if args.learned is None else tuple(args.learned or api.LEARNED),
        keep_fractions=tuple(args.keep_fractions) if args.keep_fractions else None,
        score_lr=args.score_lr,
        score_epochs=args.score_epochs,
    )
    # Bernoulli supermasks have no density asked: one line, at the mean density reached.
    best: dict[tuple[str, str, float | None], list[api.Supermask]] = defaultdict(list)
    for s in found:
        best[(s.label, s.start, None if s.criterion == "bernoulli" else s.density)].append(s)
    print(f"{'mask':<24} {'start':<16} {'kept':>8} {'test acc (mean over seeds)':>28}")
    for (name, start, _), rows in best.items():
        kept = sum(s.weights_remaining for s in rows) / len(rows)
        acc = sum(s.test_acc for s in rows) / len(rows)
        print(f"{name:<24} {start:<16} {kept:>8.3g} {acc * 100:>27.2f}%")
    print(Path(args.run_dir) / api.SUPERMASKS_FILE)
    return 0


def cmd_width(args: argparse.Namespace) -> int:
    mlp = args.model == "mlp"
    deep = args.deep_widths if args.deep_widths is not None else ([1, 2, 4, 8] if mlp else [])
    plan = api.WidthPlan(
        seeds=tuple(args.seeds),
        base=tuple(args.base),
        widths=tuple(args.widths),
        deep_widths=tuple(deep),
        methods=tuple(args.methods),
        keeps=tuple(args.keeps),
        inits=tuple(args.inits),
        epochs=args.epochs,
        score_lr=args.score_lr,
        fit=not args.no_fit,
        model=args.model,
    )
    # The MLP: the seed preset's data and setting. Conv-N: quick-conv's (CIFAR-10 as stored,
    # its subsets and SGD setting) without augmentation, which score training does not do.
    preset = Config() if mlp else PRESETS["quick-conv"]()
    train = preset.train if mlp else dataclasses.replace(preset.train, augment="none")
    data = preset.data
    if args.subset is not None:  # small runs (tests, trials)
        n = args.subset
        data = dataclasses.replace(data, train_subset=n, val_size=max(1, n // 2), test_subset=n)
        train = dataclasses.replace(train, eval_every=max(1, n // 200))
    if args.target_epochs is not None:
        train = dataclasses.replace(train, epochs=args.target_epochs)

    def told(key: str, i: int, total: int) -> None:
        if not args.quiet:
            print(f"[{i + 1}/{total}] {key}", file=sys.stderr, flush=True)

    rows = api.width(args.out, plan, train, data, args.data_dir, args.device or "auto", told)
    print(f"{len(rows)} rows; {Path(args.out) / api.WIDTH_PAGE}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    pool = None
    if args.pool_rounds is not None:
        last = max(RunDir.open(d).config.prune.rounds for d in args.run_dir)
        rounds = parse_rounds(args.pool_rounds, last, "--pool-rounds")
        pool = (rounds[0], rounds[-1])
    arms = []
    for pair in args.arms:
        a, sep, b = pair.partition(":")
        if not sep or not a or not b:
            raise TicketlabError(
                f"--arms {pair!r}: give two arms as FIRST:SECOND (ticket or a control), "
                "e.g. --arms reshuffle:signed_reinit"
            )
        arms.append((a, b))
    runs = args.run_dir if len(args.run_dir) > 1 else args.run_dir[0]
    for p in api.report(runs, args.correction, pool, args.disconnected, arms, args.out):
        print(p)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    for p in api.export(args.run_dir, args.to):
        print(p)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.conv == []:
        args.conv = ["lenet5", "conv2"]
    result = api.bench(
        args.cohorts,
        args.densities,
        args.steps,
        args.device or "auto",
        args.data_dir,
        baseline=not args.no_baseline,
        crossover=args.crossover,
        compiled=args.compile,
        conv=args.conv,
        conv_cohorts=tuple(args.conv_cohorts),
        conv_steps=args.conv_steps,
        scores=args.scores,
        bf16=args.bf16,
    )
    print(json.dumps(result, indent=1) if args.json else format_bench(result))
    return 0


def cmd_sweep_run(args: argparse.Namespace) -> int:
    out = args.out or sweeps.default_sweep_dir(args.sweep_file, api.RUNS_ROOT)
    tracker = make_tracker(args.log, args.log_uri, Path(out))
    result = sweeps.run_sweep(
        args.sweep_file,
        out,
        address=args.address,
        data_dir=args.data_dir,
        say=(lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr)),
        tracker=tracker,
        download=not args.no_download,
        threads=args.threads,
    )
    print(f"sweep directory: {out}", file=sys.stderr)
    if result["failed"]:
        print(
            f"ticketlab: {len(result['failed'])} of {result['trials']} trials failed "
            f"(`ticketlab sweep status {out}` lists them); the others went on",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_sweep_status(args: argparse.Namespace) -> int:
    print(sweeps.format_status(sweeps.trial_rows(args.sweep_dir)))
    return 0


def cmd_sweep_report(args: argparse.Namespace) -> int:
    for p in sweeps.write_sweep_report(args.sweep_dir):
        print(p)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    findings = api.verify(args.run_dir, repair=args.repair, data_dir=args.data_dir)
    root = Path(args.run_dir)
    for f in findings:
        if f.state == "ok" and not args.all:
            continue
        where = f.path.relative_to(root) if f.path.is_relative_to(root) else f.path
        print(f"{f.state:<12} {str(where) or '.'}{': ' + f.detail if f.detail else ''}")
    counts: dict[str, int] = defaultdict(int)
    for f in findings:
        counts[f.state] += 1
    print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())), file=sys.stderr)
    if any(f.state == "running" for f in findings):
        return 0
    if any(f.bad for f in findings):
        hint = "" if args.repair else "; `--repair` rebuilds what is marked rebuildable"
        print(f"ticketlab: {root} has damaged or missing files{hint}", file=sys.stderr)
        return 1
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    runs = api.list_runs(args.root)
    if not runs:
        print(f"no runs under {args.root}")
        return 0
    lines: list[tuple[str, str, str, str] | str] = []  # a run's or branch's cells; a damage line
    for r in runs:
        status = r["status"]
        if status == "damaged":
            lines.append(
                f"{Path(r['path']).name} damaged: {r['damage']} (`ticketlab verify {r['path']}`)"
            )
            continue
        if status in ("interrupted", "running"):
            status = f"{status} at round {r['next_round']}"
        if r.get("eta_s") is not None:
            status += f" ETA {_clock(r['eta_s'])}"
        status += f" ({r['trainings_done']}/{r['trainings_total']})"
        dense = f"{r['dense_test_acc'] * 100:.2f}%" if "dense_test_acc" in r else "-"
        sparse = "-"
        if "sparsest_ticket_test_acc" in r:
            sparse = (
                f"{r['sparsest_ticket_test_acc'] * 100:.2f}% at "
                f"{r['sparsest_weights_remaining'] * 100:.2f}% of weights"
            )
        lines.append((Path(r["path"]).name, status, dense, sparse))
        for b in r["branches"]:
            b_status = f"{b['status']} ({b['trainings_done']}/{b['trainings_total']})"
            if b["eta_s"] is not None:
                b_status += f" ETA {_clock(b['eta_s'])}"
            lines.append((f"  branch {b['name']}", b_status, "", ""))
    cells = [line for line in lines if isinstance(line, tuple)]
    header = ("run", "status", "dense", "sparsest ticket")
    w = [max(len(c[i]) for c in [header, *cells]) for i in range(4)]
    for line in [header, *lines]:
        if isinstance(line, str):
            print(line)
        else:
            name, status, dense, sparse = line
            print(f"{name:<{w[0]}}  {status:<{w[1]}}  {dense:>{w[2]}}  {sparse:>{w[3]}}".rstrip())
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    folder = Path(args.run_dir)
    if (folder / api.WIDTH_RUN).is_file():  # a width test's folder: its rows or its page
        page = folder / api.WIDTH_PAGE
        if args.json:
            for row in api.width_rows(folder):
                print(json.dumps(row))
        else:
            print(page.read_text() if page.is_file() else f"{folder}: no rows yet")
        return 0
    rd = RunDir.open(args.run_dir)
    if args.json:
        for row in rd.summaries():
            print(json.dumps(row))
        return 0
    st = rd.live_status()
    meta = rd.meta()  # read before printing: a damaged file is one line, nothing else
    print(f"run: {rd.path}  config: {rd.config.name}  seeds: {rd.config.seeds}")
    print(f"status: {st['status']} ({st['trainings_done']}/{st['trainings_total']} trainings)")
    if meta["invocations"]:
        print(_wall_time(rd, meta["invocations"], st["status"] == "running"))
        if st["status"] == "running":
            print(f"running since {meta['invocations'][-1]['started_at']}{_eta(rd)}")
    print(_table(rd))
    return 0


def _wall_time(rd: RunDir, invocations: list[dict[str, Any]], running: bool) -> str:
    """Recorded wall time, the running invocation's elapsed time, and how many invocations
    were killed before they could record theirs (kill -9, power loss)."""
    text = f"wall time: {sum(i.get('wall_time_s', 0) for i in invocations):.1f}s"
    text += f" over {len(invocations)} invocation(s)"
    p = rd.progress() if running else None
    if p is not None:
        text += f", {p['elapsed_s']:.0f}s so far in the one running now"
    lost = sum("wall_time_s" not in i for i in invocations[: -1 if running else None])
    if lost:
        text += f"; {lost} stopped without recording theirs (killed)"
    return text


def _eta(rd: RunDir) -> str:
    """`; round R/N, P% of its steps, ETA ...` from a running run's progress file."""
    p = rd.progress()
    if p is None or p["work_total"] == 0:
        return ""
    eta = "" if p["eta_s"] is None else f", ETA {_clock(p['eta_s'])} (an upper estimate)"
    share = p["work_done"] / p["work_total"] * 100
    return f"; round {p['round']}/{p['rounds']}, {share:.0f}% of this invocation's steps{eta}"


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _table(rd: RunDir) -> str:
    return accuracy_table(rd.summaries(), rd.config.data.dataset)


def accuracy_table(rows: list[dict[str, Any]], main: str) -> str:
    """Mean test accuracy at early stopping per round and curve: one table per dataset,
    setting and mask source (the main dataset first, IMP before the other sources), so that
    a run comparing many sources stays as readable as one comparing none."""
    Block = tuple[str, str, str]  # dataset, setting, mask source ("": IMP)
    acc: dict[Block, dict[int, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    curves: dict[Block, list[str]] = defaultdict(list)
    weights: dict[tuple[Block, int], float] = {}
    supermask: dict[tuple[Block, int], list[float]] = defaultdict(list)
    for r in rows:
        b = (r["dataset"], r["setting"], r.get("source") or "")
        curve = r["control"] or "ticket"
        if curve not in curves[b]:
            curves[b].append(curve)
        acc[b][r["round"]][curve].append(r["es_test_acc"])
        if curve == "ticket" and r.get("supermask_acc") is not None:
            supermask[b, r["round"]].append(r["supermask_acc"])
        if r["kind"] == "ticket" and (curve == "ticket" or (b, r["round"]) not in weights):
            weights[b, r["round"]] = r["weights_remaining"]
    # Each source's collapsed layers, once (they cover every dataset and setting).
    cuts = {s: ticket_layers(rows, s or None) for s in {b[2] for b in acc}}
    lines = []
    for b in sorted(acc, key=lambda b: (b[0] != main, b)):
        dataset, setting, source = b
        cut = cuts[source]
        # Each column as wide as its name (at least a percentage's), not all as the widest.
        width = {c: max(9, len(c)) for c in curves[b]}
        untrained = any((b, r) in supermask for r in acc[b])
        lines.append(
            f"\n{dataset} / {display_setting(setting)}"
            + (f" / mask source {source}" if source else "")
            + ": test accuracy at early stopping, mean over seeds"
            + (" (supermask: the ticket's mask on its untrained weights)" if untrained else "")
        )
        header = " ".join(f"{c:>{width[c]}}" for c in curves[b])
        lines.append(
            f"{'round':>5} {'weights':>9} {header}"
            + (f" {'supermask':>10}" if untrained else "")
            + "  units without inputs (ticket)"
        )
        for rnd in sorted(acc[b]):
            cells = []
            for c in curves[b]:
                v = acc[b][rnd].get(c)
                cells.append(
                    f"{sum(v) / len(v) * 100:>{width[c] - 1}.2f}%" if v else f"{'-':>{width[c]}}"
                )
            w = f"{weights[b, rnd] * 100:.2f}%" if (b, rnd) in weights else "-"
            sm = supermask.get((b, rnd))
            if untrained:
                cells.append(f"{sum(sm) / len(sm) * 100:>9.2f}%" if sm else f"{'-':>10}")
            lines.append(
                f"{rnd:>5} {w:>9} "
                + " ".join(cells)
                + f"  {cut.get((dataset, setting, rnd), ('', ''))[1]}"
            )
    return "\n".join(lines)


def _runtime_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        help="the folder holding the datasets (the only place looked in); default: "
        "$TICKETLAB_DATA, then the cache, downloading there when online",
    )
    p.add_argument("--no-download", action="store_true", help="never download missing data")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    _threads_arg(p)


def _threads_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=int,
        help="compute threads (default: $OMP_NUM_THREADS, else one per core); give each of "
        "several jobs on one machine its share of the cores",
    )


def _log_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log",
        choices=TRACKERS,
        help="also log every training to MLflow or TensorBoard as it is recorded (the "
        "extras mlflow or tensorboard: " + install_hint("mlflow") + ", or tensorboard)",
    )
    p.add_argument(
        "--log-uri",
        help="MLflow tracking URI (default: sqlite:///<runs folder or sweep dir>/mlflow.db) "
        "or TensorBoard log directory (default: <runs folder or sweep dir>/tensorboard)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketlab", description="Lottery-ticket experiments: IMP, controls, figures."
    )
    parser.add_argument("--version", action="version", version=f"ticketlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "run",
        help="run or resume an experiment",
        description="Find winning tickets by iterative magnitude pruning and train them "
        "against their controls and on the transfer datasets, as a preset or a YAML config "
        "(with --set overrides) says, into a run directory. The same command resumes an "
        "interrupted run at the training it was in; more --seeds add seeds to a run.",
    )
    _config_args(p)
    p.add_argument("--out", help="run directory (default: runs/<name>-<config hash>)")
    _runtime_args(p)
    _log_args(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser(
        "resume",
        help="resume a run with the config it was made with",
        description="Continue an interrupted run from its directory alone: its config.yaml, "
        "and the data folder it was given.",
    )
    p.add_argument("run_dir", help="a run directory")
    _runtime_args(p)
    p.set_defaults(func=cmd_resume)
    p = sub.add_parser(
        "branch",
        help="train more controls or transfers on a finished run's tickets",
        description="Train more controls (experiment.controls), transfer datasets "
        "(transfer.datasets) or transfer settings (transfer.settings) on the saved masks and "
        "inits of RUN_DIR, into RUN_DIR/branches/<name>-<hash>/. The run's own records are "
        "never modified; show, report, export and plot show the branch beside them.",
    )
    p.add_argument("run_dir", help="a run directory")
    _set_arg(p, "e.g. --set 'experiment.controls=[reinit, signed_reinit]' (repeatable)")
    p.add_argument("--rounds", help="rounds to train, e.g. 0,2,4 or 0-20 or 0-20:2 (default all)")
    p.add_argument("--name", default="branch", help="name of the branch folder (default branch)")
    _runtime_args(p)
    p.set_defaults(func=cmd_branch)
    p = sub.add_parser(
        "config",
        help="print a resolved config as YAML",
        description="Print every key of a preset or config file, with --set overrides "
        "applied and checked, as YAML to edit and run (`ticketlab run FILE`).",
    )
    _config_args(p)
    p.set_defaults(func=cmd_config)
    p = sub.add_parser(
        "plot",
        help="draw a run's figures",
        description="Redraw RUN_DIR/figures/ from the run's records and its branches': Figure "
        "1 (the main dataset), Figure 2 (each transfer setting), the grid of every dataset "
        "and setting, and the sign flips. A run draws them itself when it finishes.",
    )
    p.add_argument("run_dir", help="a run directory")
    p.set_defaults(func=cmd_plot)
    p = sub.add_parser(
        "supermasks",
        help="one-shot supermasks by criterion, untrained",
        description="Zhou et al. (2019): train each seed's dense network once more (round "
        "0's initial weights and data order), build every IMP criterion's mask at each "
        "density from its initial and final weights, apply it to the initial weights "
        "(original values and signed constant) and evaluate without training; with "
        "--learned, also masks trained on those frozen starts (edge-popup, biprop, the "
        "Bernoulli supermask). Writes RUN_DIR/supermasks.json and a figure.",
    )
    p.add_argument("run_dir", help="a run directory")
    p.add_argument(
        "--criteria", nargs="+", help="criteria to build (default: every prune.criterion)"
    )
    p.add_argument(
        "--densities",
        nargs="+",
        type=float,
        help="fractions of each tensor kept (default: 0.5 0.3 0.2 0.1 0.05 0.02 0.01)",
    )
    p.add_argument(
        "--learned",
        nargs="*",
        choices=api.LEARNED,
        help="also train masks on the same frozen starts with these methods (no value: all "
        "of edgepopup biprop bernoulli); resumes after the last finished cohort",
    )
    p.add_argument(
        "--keep-fractions",
        nargs="+",
        type=float,
        help="edge-popup's and biprop's keep fractions (default: 0.5 0.3 0.1)",
    )
    p.add_argument(
        "--score-lr",
        type=float,
        help="the learned masks' score learning rate (default: the run's experiment.score_lr)",
    )
    p.add_argument(
        "--score-epochs",
        type=int,
        help="epochs of score training (default: the run's experiment.score_epochs)",
    )
    p.add_argument("--data-dir", help="the folder holding the dataset (default: the run's)")
    p.add_argument("--no-download", action="store_true", help="never download missing data")
    p.set_defaults(func=cmd_supermasks)
    p = sub.add_parser(
        "width",
        help="the strong-ticket width test: subnetworks of wide random networks",
        description="Does a wide enough random network hide a subnetwork as accurate as a "
        "trained narrow one? Trains the target (784-100-100-10, or Conv-N on CIFAR-10) per "
        "seed, then edge-popup and biprop subnetworks of frozen random networks of each width "
        "(same depth and, for the MLP, twice the depth) at each keep fraction and at the "
        "parameter-matched one, random-mask baselines untrained and trained, and edge-popup "
        "fitted to the target's logits. Writes OUT/width.json, width-run.json and width.md; "
        "the same command resumes.",
    )
    p.add_argument("--out", required=True, help="folder for the rows and the page")
    p.add_argument(
        "--model",
        choices=["mlp", "conv2", "conv4", "conv6"],
        default="mlp",
        help="mlp (MNIST, the seed setting) or Conv-N with width multipliers (CIFAR-10, "
        "quick-conv's data and setting without augmentation)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (0 1 2)")
    p.add_argument(
        "--base", type=int, nargs="+", default=[100, 100], help="target's hidden widths (100 100)"
    )
    p.add_argument(
        "--widths",
        type=int,
        nargs="+",
        default=[1, 2, 4, 8, 16],
        help="multiples of the base widths at the same depth (1 2 4 8 16)",
    )
    p.add_argument(
        "--deep-widths",
        type=int,
        nargs="*",
        help="widths at twice the depth (MLP only; default 1 2 4 8, none for Conv-N)",
    )
    p.add_argument(
        "--methods", nargs="+", default=["edgepopup", "biprop"], help="edgepopup and/or biprop"
    )
    p.add_argument("--keeps", type=float, nargs="+", default=[0.1, 0.3, 0.5], help="fractions kept")
    p.add_argument(
        "--inits",
        nargs="+",
        default=["kaiming_normal", "signed_constant"],
        help="frozen weights: kaiming_normal and/or signed_constant",
    )
    p.add_argument("--epochs", type=int, default=20, help="epochs of score training")
    p.add_argument("--score-lr", type=float, default=1.0, help="the scores' learning rate")
    p.add_argument("--no-fit", action="store_true", help="skip the logit-fitting variant")
    p.add_argument("--target-epochs", type=int, help="the target's epochs (default: 10; Conv-N: 4)")
    p.add_argument("--subset", type=int, help="train and test on this many examples")
    p.add_argument("--device", help="auto (CUDA if available), cpu or cuda")
    p.add_argument("--data-dir", help="folder holding MNIST (else $TICKETLAB_DATA, cache)")
    p.add_argument("--quiet", action="store_true", help="no line per cell")
    _threads_arg(p)
    p.set_defaults(func=cmd_width)
    p = sub.add_parser(
        "report",
        help="write RUN_DIR/report.html and report.md",
        description="Verdicts with intervals: for every dataset, setting and control, the "
        "ticket against the control paired by seed at every level (Student-t intervals, "
        "adjusted p-values) and pooled over levels, on accuracy and on sign flips (at early "
        "stopping; across settings also at equal steps); shares of the gap with Fieller "
        "intervals; the config, environment, wall times and figures. The page's pooled "
        "tests are one family and its per-level tests another. Several runs make one page "
        "(records paired within each run), written to --out. The HTML is self-contained.",
    )
    p.add_argument("run_dir", nargs="+", help="a run directory (or several, with --out)")
    p.add_argument(
        "--out", help="folder for a page over several runs (default: the run's directory)"
    )
    p.add_argument(
        "--arms",
        action="append",
        default=[],
        metavar="FIRST:SECOND",
        help="also compare two arms directly, first minus second (ticket or a control, e.g. "
        "reshuffle:signed_reinit); repeatable; the tests join the page's families",
    )
    p.add_argument(
        "--correction",
        choices=["holm", "bh"],
        default="holm",
        help="adjustment of the page's two families (pooled tests, per-level tests): holm "
        "(family-wise error, default) or bh (Benjamini-Hochberg, false discovery rate)",
    )
    p.add_argument(
        "--pool-rounds",
        metavar="A-B",
        help="rounds the pooled verdict averages over (default: every pruned level, 1 and up)",
    )
    p.add_argument(
        "--disconnected",
        choices=["exclude", "keep"],
        default="exclude",
        help="levels where any network has an output unit with no inputs (or a layer with no "
        "weights): left out of the pooled verdict and reported apart (exclude, default), "
        "or pooled like the others (keep)",
    )
    p.set_defaults(func=cmd_report)
    p = sub.add_parser(
        "export",
        help="metrics as CSV and JSON (default: RUN_DIR/export)",
        description="Write trainings.csv and trainings.json (one record per training, "
        "branches included, as `show --json`) and evals.csv (every evaluation point, joined "
        "to its training by training_id), for plotting in other tools.",
    )
    p.add_argument("run_dir", help="a run directory")
    p.add_argument("--to", help="folder to write into (default: RUN_DIR/export)")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser(
        "bench",
        help="training throughput vs matmul peak and a plain loop",
        description="Time training steps of MLP cohorts at several densities on MNIST "
        "against the device's matmul peak and a plain single-network PyTorch loop; "
        "optionally the dense/block-sparse crossover, torch.compile and conv nets.",
    )
    p.add_argument(
        "--cohorts",
        type=int,
        nargs="+",
        default=[1, 4, 16, 64],
        help="cohort sizes to time, networks trained together (default: 1 4 16 64)",
    )
    p.add_argument(
        "--densities",
        type=float,
        nargs="+",
        default=[1.0, 0.2, 0.05, 0.01],
        help="fractions of weights kept to time each cohort at (default: 1 0.2 0.05 0.01)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=100,
        help="timed steps per measurement (in chunks of 50, after 50 untimed)",
    )
    p.add_argument("--device", help="auto (CUDA if available), cpu or cuda")
    p.add_argument("--data-dir", help="folder holding MNIST (else $TICKETLAB_DATA, cache)")
    p.add_argument("--no-baseline", action="store_true", help="skip the plain-loop baseline")
    p.add_argument(
        "--crossover",
        action="store_true",
        help="also time one layer dense vs block-sparse over densities (largest cohort)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="also time dense training with the step compiled by torch.compile",
    )
    p.add_argument(
        "--conv",
        nargs="*",
        metavar="MODEL",
        help="also time cohorts of conv nets against a plain loop on CIFAR-10 (default "
        "models: lenet5 conv2; e.g. --conv lenet5 conv2 resnet20)",
    )
    p.add_argument(
        "--conv-cohorts",
        type=int,
        nargs="+",
        default=[1, 4, 8],
        help="cohort sizes of the conv rows (default: 1 4 8)",
    )
    p.add_argument("--conv-steps", type=int, default=10, help="timed steps per conv row")
    p.add_argument(
        "--bf16",
        action="store_true",
        help="also time every cohort and density with train.precision bf16, and the bf16 peak",
    )
    p.add_argument(
        "--scores",
        action="store_true",
        help="also time score training (edge-popup, biprop; weights frozen) against dense "
        "weight training, the densities below 1 as keep fractions",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _threads_arg(p)
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser(
        "sweep",
        help="grids of runs on Ray: run, status, report",
        description="A grid of runs from a sweep file, each trial an ordinary run "
        "directory, placed on Ray (this machine or a cluster).",
    )
    sweep_sub = p.add_subparsers(dest="sweep_command", required=True)
    q = sweep_sub.add_parser(
        "run",
        help="run (or resume) every trial of a sweep file",
        description="Run every unfinished trial of SWEEP_FILE on Ray; finished trials are "
        "skipped, interrupted ones resume in their run directories. The datasets are "
        "checked before Ray starts.",
    )
    q.add_argument("sweep_file", help="a sweep file (YAML; see the sweeps guide)")
    q.add_argument("--out", help="sweep directory (default runs/sweeps/<file>-<base hash>)")
    q.add_argument(
        "--address",
        help="join a running Ray cluster (auto, or HOST:PORT); default: start Ray here",
    )
    q.add_argument("--data-dir", help="folder holding the datasets (on every node)")
    q.add_argument("--no-download", action="store_true", help="never download missing data")
    q.add_argument("--quiet", action="store_true", help="no line per finished trial")
    q.add_argument(
        "--threads",
        type=int,
        help="compute threads of each trial (default: the sweep file's resources.cpus)",
    )
    _log_args(q)
    q.set_defaults(func=cmd_sweep_run)
    q = sweep_sub.add_parser(
        "status",
        help="each trial's state, progress and headline",
        description="One line per trial of a sweep: its grid point, state (complete, "
        "running, interrupted, failed with its message), trainings done and headline.",
    )
    q.add_argument("sweep_dir", help="a sweep directory")
    q.set_defaults(func=cmd_sweep_status)
    q = sweep_sub.add_parser(
        "report",
        help="figures per grid dimension, verdicts, CSV",
        description="Pool every grid point's seeds across its trials: a figure per grid "
        "dimension, the verdicts of a run's report, and every trial's records in "
        "trainings.csv with a grid.KEY column per dimension.",
    )
    q.add_argument("sweep_dir", help="a sweep directory")
    q.set_defaults(func=cmd_sweep_report)
    p = sub.add_parser(
        "verify",
        help="check every file of a run against its checksums and records",
        description="Check every file of RUN_DIR and its branches: intact, unchecked "
        "(written before checksums), missing, damaged, or rebuildable. --repair rebuilds, "
        "under the run's lock and without training, the database from the records journal, "
        "initial weights and random masks from the seeds, and figures, reports and exports "
        "from the records. Exits 1 while anything is damaged or missing.",
    )
    p.add_argument("run_dir", help="a run directory")
    p.add_argument("--repair", action="store_true", help="rebuild what can be rebuilt")
    p.add_argument("--all", action="store_true", help="list intact files too")
    p.add_argument(
        "--data-dir",
        help="the folder holding the main dataset, whose shape rebuilding initial weights "
        "needs (default: the folder the run was given, else $TICKETLAB_DATA and the cache)",
    )
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser(
        "ls",
        help="list runs and their status",
        description="Every run directory under ROOT with its status (complete, running, "
        "interrupted), trainings done and the ticket's accuracy at its sparsest level.",
    )
    p.add_argument(
        "root", nargs="?", default=str(api.RUNS_ROOT), help="folder of runs (default: runs)"
    )
    p.set_defaults(func=cmd_ls)
    p = sub.add_parser(
        "show",
        help="a run's status and results",
        description="A run's status and its per-round table: weights remaining, the mean "
        "test accuracy at early stopping of every curve, and units left without inputs. "
        "--json prints one record per finished training instead, branches included. For a "
        "width test's folder, its page (width.md), or with --json its rows.",
    )
    p.add_argument("run_dir", help="a run directory or a width test's folder")
    p.add_argument("--json", action="store_true", help="one JSON record per finished training")
    p.set_defaults(func=cmd_show)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler, ``timeout``, a container stop), handled like Ctrl-C."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _warn(message: Warning | str, category: type[Warning], *args: object, **kw: object) -> None:
    print(f"ticketlab: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "threads", None) is not None:
        if args.threads < 1:
            print("ticketlab: error: --threads must be at least 1", file=sys.stderr)
            return 2
        torch.set_num_threads(args.threads)
    previous = signal.signal(signal.SIGTERM, _terminate)
    show = warnings.showwarning
    warnings.showwarning = _warn  # type: ignore[assignment]
    try:
        return args.func(args)
    except TicketlabError as e:
        print(f"ticketlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        how = "stopped by SIGTERM" if isinstance(e, Terminated) else "interrupted"
        print(f"\nticketlab: {how}; run the same command again to resume.", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    except BrokenPipeError:
        # The reader went away (`ticketlab show RUN | head`): stop quietly. Point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        signal.signal(signal.SIGTERM, previous)
        warnings.showwarning = show


if __name__ == "__main__":
    sys.exit(main())
