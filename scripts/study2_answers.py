"""The follow-up study's answers as Markdown, from the records committed under ``results/``:

    .venv/bin/python scripts/study2_answers.py > results/study2-answers.md

Are tickets dataset-specific? Reads the exports of the MNIST and FashionMNIST trunks (with
their ``specific-*`` branches: each trunk's tickets trained on both datasets, Adam and SGD,
against re-init, every fourth round) and the mask overlaps in
``results/study2-overlap.csv`` (written from the run directories by ``--overlap``, since
masks are not part of the exports). The MNIST trunk's records are two sets: its first run's
(``study2-trunk``, with the branches recorded there) and its re-run's on another machine
(``study2-trunk-rerun``: the same trunk trainings, checked equal, and the branches run
since); a training recorded in both appears once, and must be equal in both. Both trunks
start from the same initial weights and draw the same data order per seed and round, so
records of the two pair by seed and level.
The page's pooled tests are one Holm family, its per-level tests another; disconnected
levels are left out of a pooled test of a ticket against its re-init and reported apart.

Training length: the MNIST trunk's ``length-*`` branches (its tickets on FashionMNIST and
CIFAR-10 under Adam and SGD lr 1e-2, 3 and 40 epochs, against re-init, signed re-init and
reshuffle). A dataset enters once all its trainings are recorded. Its pooled tests are a
third Holm family: the section's own, so that adding a dataset does not move the other
sections' p-values.

Scale against values against positions: the ticket against ``reinit``, ``scaled_reinit``,
``reshuffle``, ``signed_reshuffle`` and ``signed_constant`` under SGD lr 1e-2 at 3 and 40
epochs on the three transfer datasets (the ``scale-*`` branches, with the arms the length
branches already trained in those settings), the steps from re-init to the ticket one
property at a time, and each control's share of the ticket's lead over re-init. A fourth
Holm family, entered per dataset once complete.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ticketlab.analysis.stats import Ratio, Test, adjust, fieller, pooled_test
from ticketlab.analysis.verdicts import (
    Comparison,
    GapShare,
    Options,
    arm,
    compare,
    compare_arms,
    correct_levels,
    correct_pooled,
    format_p,
    gap_shares,
)
from ticketlab.experiments.records import differing_fields

RESULTS = Path(__file__).parents[1] / "results"
RUNS = {"mnist": "study2-trunk", "fashion_mnist": "study2-fmnist-trunk"}
NAMES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
ADAM, SGD = "adam lr=0.0012, 10 epochs", "sgd lr=0.01, 3 epochs"
SETTINGS = {ADAM: "Adam, 10 epochs", SGD: "SGD lr 1e-2, 3 epochs"}
OVERLAP = RESULTS / "study2-overlap.csv"
LENGTH_DATASETS = {"fashion_mnist": "FashionMNIST", "cifar10": "CIFAR-10"}
LENGTHS = {  # optimiser: (3 epochs, 40 epochs)
    "Adam lr 1.2e-3": ("adam lr=0.0012, 3 epochs", "adam lr=0.0012, 40 epochs"),
    "SGD lr 1e-2": ("sgd lr=0.01, 3 epochs", "sgd lr=0.01, 40 epochs"),
}
LENGTH_ARMS = ("ticket", "reinit", "signed_reinit", "reshuffle")
SCALE_DATASETS = {"fashion_mnist": "FashionMNIST", "cifar10": "CIFAR-10", "maxgroup": "MaxGroup"}
SCALE_ARMS = (
    *("ticket", "reinit", "scaled_reinit", "reshuffle", "signed_reshuffle", "signed_constant"),
)
# From re-init to the ticket one property of the kept starting values at a time: each step's
# arm keeps what the one before kept and one thing more. The steps add up to the ticket's
# lead over re-init (per seed and level, exactly).
SCALE_STEPS = (
    ("scaled_reinit", "reinit", "scale: a fresh draw at the ticket's RMS"),
    ("reshuffle", "scaled_reinit", "distribution: the ticket's own values, positions random"),
    ("signed_reshuffle", "reshuffle", "signs: each value's sign at its position"),
    ("ticket", "signed_reshuffle", "magnitudes: each magnitude at its position"),
)


def rows_of(found_on: str) -> list[dict[str, Any]]:
    """A trunk's records: its first run's, then those of its re-runs on other machines
    (``NAME-rerun``, ``NAME-rerun2``, ...: the same trunk trainings, and the branches run
    there), each training once."""
    name = RUNS[found_on]
    sets = [RESULTS / name, *sorted(RESULTS.glob(f"{name}-rerun*"))]
    exports = [d / "export" / "trainings.json" for d in sets]
    rows = union(*(json.loads(path.read_text()) for path in exports if path.is_file()))
    return [r | {"found_on": found_on} for r in rows if r["round"] % 4 == 0]


def union(*exports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every training of several record sets of one run, once each (by training id): a
    training in two sets was trained twice, from one trunk and commit, and must agree in
    every field but its timings and the branch that trained it (a run trains a training
    once, in the first of its branches to need it), or the sets are not of one run
    (``ValueError``). The first set's record is kept."""
    seen: dict[str, dict[str, Any]] = {}
    for rows in exports:
        for r in rows:
            first = seen.setdefault(r["training_id"], r)
            if first is r:
                continue
            differ = differing_fields(first, r)
            if differ:
                raise ValueError(
                    f"training {r['training_id']} differs between two record sets of one run "
                    f"in {', '.join(differ)}: they are not records of the same trunk; record "
                    "a branch only from a trunk whose re-run scripts/same_records.py accepts"
                )
    return list(seen.values())


def pp(x: float) -> str:
    return f"{x * 100:+.2f}"


def cell(c: Comparison | None) -> str:
    """A comparison's pooled test: its mean, interval and family-adjusted p."""
    return "n/a" if c is None else test_text(c.pooled, c.pooled_p_adj)


def test_text(t: Test, p_adj: float | None) -> str:
    """A test's mean and interval in pp, and its p (adjusted, where given)."""
    if t.ci is None:
        return "n/a"
    lo, hi = (pp(v) for v in t.ci)
    return f"{pp(t.mean)} [{lo}, {hi}], p {format_p(p_adj if p_adj is not None else t.p)}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def overlap_rows() -> list[dict[str, str]]:
    if not OVERLAP.is_file():
        return []
    with open(OVERLAP) as f:
        return list(csv.DictReader(f))


def write_overlap(runs_dir: Path) -> None:
    """Mask overlaps from the run directories (masks stay there) into ``OVERLAP``: MNIST
    against FashionMNIST tickets, MNIST per_round against fixed order, and each trunk's
    between-seed and large_init overlaps."""
    from ticketlab.analysis.masks import overlaps
    from ticketlab.store.rundir import RunDir

    mnist = RunDir.open(runs_dir / RUNS["mnist"])
    fmnist = RunDir.open(runs_dir / RUNS["fashion_mnist"])
    out = []
    pairs = [("MNIST vs FashionMNIST", overlaps(mnist, fmnist))]
    if (runs_dir / "study2-fixed" / "config.yaml").is_file():
        fixed = RunDir.open(runs_dir / "study2-fixed")
        pairs.append(("MNIST per_round vs fixed order", overlaps(mnist, fixed)))
    for name, run in (("MNIST", mnist), ("FashionMNIST", fmnist)):
        for r in overlaps(run):
            pairs.append((f"{name} {r.what}", [r]))
    for what, rows in pairs:
        for r in rows:
            out.append(
                {
                    "comparison": what,
                    "round": r.round,
                    "seeds": f"{r.seeds[0]}-{r.seeds[1]}",
                    "tensor": r.tensor,
                    "weights_remaining": f"{r.weights_remaining:.6f}",
                    "jaccard": f"{r.jaccard:.6f}",
                    "chance": f"{r.chance:.6f}",
                }
            )
    with open(OVERLAP, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)


def holm(ps: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the tests that have one (None stays None)."""
    p_of = iter(adjust([p for p in ps if p is not None], "holm"))
    return [next(p_of) if p is not None else None for p in ps]


def complete(
    rows: list[dict[str, Any]], dataset: str, settings: set[str], arms: tuple[str, ...]
) -> list[dict[str, Any]] | None:
    """The records of ``dataset`` among ``rows`` in ``settings`` of the ``arms``, or None
    while any (setting, round, seed, arm) of the trunk's rounds and seeds is missing."""
    mine = [
        r for r in rows if r["dataset"] == dataset and r["setting"] in settings and arm(r) in arms
    ]
    done = {(r["setting"], r["round"], r["seed"], arm(r)) for r in mine}
    want = (
        len(settings) * len(arms) * len({r["round"] for r in rows}) * len({r["seed"] for r in rows})
    )
    return mine if len(done) == want else None


def length_rows(rows: list[dict[str, Any]], dataset: str) -> list[dict[str, Any]] | None:
    """The training-length records of ``dataset`` among ``rows`` (the four settings, ticket
    and its three controls), or None while any is missing (the branch is running)."""
    return complete(rows, dataset, {s for pair in LENGTHS.values() for s in pair}, LENGTH_ARMS)


@dataclass
class Length:
    """The training-length tables of the datasets whose records are complete."""

    tests: list[tuple[str, str, str, str, Test]]  # dataset, setting, what, metric, test
    p_adj: list[float | None]  # Holm over ``tests``
    shares: list[tuple[str, str, list[int], Ratio]]  # dataset, optimiser, rounds, 40 over 3
    ends: list[tuple[str, str, dict[str, float], float]]  # dataset, setting, arm: acc, late


def length_tables(done: dict[str, list[dict[str, Any]]]) -> Length:
    """Does the high-lr advantage survive training for 40 epochs? Per dataset: the ticket
    against each control at 3 and 40 epochs (accuracy at early stopping and sign flips at
    the end, at equal steps for the arms of a setting), the change of the ticket's lead over
    re-init from 3 to 40 epochs, the share of the 3-epoch lead left at 40 (Fieller), and
    where each arm ends up (mean accuracy over the levels pooled; the share of trainings
    whose lowest validation loss is in the last fifth)."""
    tests: list[tuple[str, str, str, str, Test]] = []
    shares: list[tuple[str, str, list[int], Ratio]] = []
    ends: list[tuple[str, str, dict[str, float], float]] = []
    for ds, rows in done.items():
        by: dict[tuple[str, str, str], Comparison] = {}
        for metric in ("es_test_acc", "sign_flip_final"):
            for c in compare(rows, metric, Options()):
                by[(metric, c.setting, c.control)] = c
                tests.append((ds, c.setting, f"ticket - {c.control}", metric, c.pooled))
        for label, (short, long_) in LENGTHS.items():
            c3, c40 = by[("es_test_acc", short, "reinit")], by[("es_test_acc", long_, "reinit")]
            rounds = sorted(set(c3.pooled_rounds) & set(c40.pooled_rounds))
            change = {r: {s: c40.diffs[r][s] - c3.diffs[r][s] for s in c3.diffs[r]} for r in rounds}
            test, used, seeds = pooled_test(change, rounds)
            tests.append((ds, label, "lead over reinit, 40 minus 3 epochs", "es_test_acc", test))
            lead3 = [sum(c3.diffs[r][s] for r in used) / len(used) for s in seeds]
            lead40 = [sum(c40.diffs[r][s] for r in used) / len(used) for s in seeds]
            shares.append((ds, label, used, fieller(lead40, lead3)))
            for setting in (short, long_):
                mine = [r for r in rows if r["setting"] == setting]
                accs = {
                    a: float(
                        np.mean(
                            [r["es_test_acc"] for r in mine if arm(r) == a and r["round"] in used]
                        )
                    )
                    for a in LENGTH_ARMS
                }
                late = float(np.mean([r["es_step"] > 0.8 * r["steps"] for r in mine]))
                ends.append((ds, setting, accs, late))
    return Length(tests, holm([t.p for *_, t in tests]), shares, ends)


def length_section() -> list[str]:
    trunk = rows_of("mnist")
    done = {ds: length_rows(trunk, ds) for ds in LENGTH_DATASETS}
    out = ["## Training length", ""]
    running = [LENGTH_DATASETS[ds] for ds, rows in done.items() if rows is None]
    if running:
        out += [f"Not yet complete (the branch runs): {', '.join(running)}.", ""]
    got = length_tables({ds: rows for ds, rows in done.items() if rows is not None})
    if not got.tests:
        return out
    n = sum(p is not None for p in got.p_adj)
    out += [
        "The MNIST trunk's tickets trained 3 and 40 epochs on each dataset (rounds 0, 4, ..., "
        "20), against re-init, signed re-init and reshuffle. Differences in pp, paired by "
        "seed, pooled over the connected pruned levels (disconnected ones left out); every p "
        f"is Holm-adjusted over this section's {n} pooled tests (its own family; it grows as "
        "datasets complete).",
        "",
        "### Ticket minus control",
        "",
    ]
    lines = [
        [
            LENGTH_DATASETS[ds],
            setting,
            what,
            "accuracy" if metric == "es_test_acc" else "sign flips",
            test_text(t, p),
        ]
        for (ds, setting, what, metric, t), p in zip(got.tests, got.p_adj, strict=True)
    ]
    out.append(table(["dataset", "setting", "difference", "of", "pp"], lines))
    out += [
        "### The 3-epoch lead over re-init left at 40 epochs",
        "",
        "The ticket's lead at 40 epochs over its lead at 3 (both against re-init, per seed "
        "averaged over the levels pooled), with its 95% Fieller interval.",
        "",
    ]
    shares = []
    for ds, label, rounds, r in got.shares:
        share = (
            f"{r.estimate:.0%} [{r.ci[0]:.0%}, {r.ci[1]:.0%}]"
            if r.ci is not None
            else f"{r.estimate:.0%} (unbounded: the 3-epoch lead is not resolved from zero)"
        )
        shares.append([LENGTH_DATASETS[ds], label, f"{rounds[0]}-{rounds[-1]}", share])
    out.append(table(["dataset", "optimiser", "rounds", "share left"], shares))
    out += [
        "### Where each arm ends up",
        "",
        "Mean test accuracy at early stopping (%) over the levels pooled and the seeds, and "
        "the share of the setting's trainings (every level) whose lowest validation loss "
        "falls in the last fifth of training (still improving when it ends).",
        "",
    ]
    ends = [
        [
            LENGTH_DATASETS[ds],
            setting,
            *(f"{accs[a] * 100:.2f}" for a in LENGTH_ARMS),
            f"{late:.0%}",
        ]
        for ds, setting, accs, late in got.ends
    ]
    out.append(table(["dataset", "setting", *LENGTH_ARMS, "minimum in the last fifth"], ends))
    return out


def scale_rows(rows: list[dict[str, Any]], dataset: str) -> list[dict[str, Any]] | None:
    """The scale-against-values records of ``dataset`` (SGD lr 1e-2 at 3 and 40 epochs, the
    ticket and the five controls, from the length and scale branches alike), or None while
    any is missing."""
    return complete(rows, dataset, set(LENGTHS["SGD lr 1e-2"]), SCALE_ARMS)


@dataclass
class Scale:
    """The scale tables of the datasets whose records are complete."""

    tests: list[tuple[str, str, str, Comparison]]  # dataset, setting, what, comparison
    p_adj: list[float | None]  # Holm over the tests' pooled p-values
    shares: list[GapShare]  # each control's share of the ticket's lead over re-init


def scale_tables(done: dict[str, list[dict[str, Any]]]) -> Scale:
    """Which property of the kept starting values carries the ticket's lead under high-lr
    SGD? Per dataset and length: the ticket against each control, the steps from re-init
    to the ticket (``SCALE_STEPS``; the last is a ticket-minus-control test already), and
    the share of the ticket's lead over re-init each control closes (Fieller)."""
    tests: list[tuple[str, str, str, Comparison]] = []
    shares: list[GapShare] = []
    for ds, rows in done.items():
        against = compare(rows, "es_test_acc", Options())
        tests += [(ds, c.setting, f"ticket - {c.control}", c) for c in against]
        for first, second, _ in SCALE_STEPS[:-1]:
            for c in compare_arms(rows, first, second, "es_test_acc", Options()):
                tests.append((ds, c.setting, f"{first} - {second}", c))
        shares += gap_shares(against, "reinit")
    return Scale(tests, holm([c.pooled.p for *_, c in tests]), shares)


def scale_section() -> list[str]:
    trunk = rows_of("mnist")
    done = {ds: scale_rows(trunk, ds) for ds in SCALE_DATASETS}
    out = ["## Scale against values against positions", ""]
    running = [SCALE_DATASETS[ds] for ds, rows in done.items() if rows is None]
    if running:
        out += [f"Not yet complete (the branch runs): {', '.join(running)}.", ""]
    got = scale_tables({ds: rows for ds, rows in done.items() if rows is not None})
    if not got.tests:
        return out
    n = sum(p is not None for p in got.p_adj)
    out += [
        "The MNIST trunk's tickets trained under SGD lr 1e-2 for 3 and 40 epochs (rounds 0, "
        "4, ..., 20) against re-init, re-init at the ticket's scale, reshuffle, signed "
        "reshuffle and signed constant. Accuracy differences in pp, paired by seed, pooled "
        "over the connected pruned levels; every p is Holm-adjusted over this section's "
        f"{n} pooled tests (its own family).",
        "",
        "### From re-init to the ticket, one property at a time",
        "",
        "Each row's arm keeps what the row above kept and one property more; the four "
        "differences add up to the ticket's lead over re-init.",
        "",
    ]
    by = {
        (ds, setting, what): (c, p)
        for (ds, setting, what, c), p in zip(got.tests, got.p_adj, strict=True)
    }
    lines = []
    for ds in (d for d in SCALE_DATASETS if done[d] is not None):
        for setting in LENGTHS["SGD lr 1e-2"]:
            for first, second, what in SCALE_STEPS:
                label = f"ticket - {second}" if first == "ticket" else f"{first} - {second}"
                c, p = by[(ds, setting, label)]
                lines.append([SCALE_DATASETS[ds], setting, what, test_text(c.pooled, p)])
            c, p = by[(ds, setting, "ticket - reinit")]
            lines.append(
                [SCALE_DATASETS[ds], setting, "all: ticket - reinit", test_text(c.pooled, p)]
            )
    out.append(table(["dataset", "setting", "step", "pp"], lines))
    out += ["### Ticket minus each control", ""]
    lines = [
        [SCALE_DATASETS[ds], setting, what, test_text(c.pooled, p)]
        for (ds, setting, what, c), p in zip(got.tests, got.p_adj, strict=True)
        if what.startswith("ticket - ")
    ]
    out.append(table(["dataset", "setting", "difference", "pp"], lines))
    out += [
        "### Share of the ticket's lead over re-init each control closes",
        "",
        "(control - reinit) / (ticket - reinit), per seed averaged over the levels pooled, "
        "with its 95% Fieller interval. A control beyond 100% leads re-init by more than "
        "the ticket does; below 0%, it trails re-init.",
        "",
    ]
    lines = [
        [
            SCALE_DATASETS[g.dataset],
            g.setting,
            g.control,
            f"{g.rounds[0]}-{g.rounds[-1]}",
            g.describe(),
        ]
        for g in got.shares
    ]
    out.append(table(["dataset", "setting", "control", "rounds", "share closed"], lines))
    return out


def main(argv: list[str]) -> None:
    if "--overlap" in argv:
        write_overlap(Path(argv[argv.index("--overlap") + 1]))
        return
    rows = {ds: rows_of(ds) for ds in RUNS}
    opts = Options()
    # The matrix: per (found on, trained on, setting), the ticket against its re-init (on
    # the two trunks' datasets: the length branches train CIFAR-10 in one of its settings).
    matrix: dict[tuple[str, str, str], Comparison] = {}
    for found, mine in rows.items():
        for c in compare(mine, "es_test_acc", opts):
            if c.control == "reinit" and c.setting in SETTINGS and c.dataset in RUNS:
                matrix[(found, c.dataset, c.setting)] = c
    # Directly: on each dataset and setting, the ticket found there minus the one found on
    # the other dataset (same seeds, initial weights, data order and level).
    direct: dict[tuple[str, str], Comparison] = {}
    for trained in RUNS:
        other = next(d for d in RUNS if d != trained)
        both = [
            r | {"kind": "ticket" if r["found_on"] == trained else "control", "control": None}
            for found in RUNS
            for r in rows[found]
            if r["kind"] == "ticket" and r["dataset"] == trained
        ]
        both = [
            r | ({"control": f"found on {NAMES[other]}"} if r["kind"] == "control" else {})
            for r in both
        ]
        for c in compare(both, "es_test_acc", opts):
            if c.setting in SETTINGS:
                c.first = f"found on {NAMES[trained]}"
                direct[(trained, c.setting)] = c
    everything = [*matrix.values(), *direct.values()]
    correct_pooled(everything)
    correct_levels(everything)
    family = next(c.family for c in everything if c.family)
    levels = next(c.level_family for c in everything if c.level_family)
    out = [
        "# The follow-up study's answers (generated)",
        "",
        "Made by `.venv/bin/python scripts/study2_answers.py > results/study2-answers.md` from "
        "`results/study2-trunk/export` with `results/study2-trunk-rerun/export` (the "
        "MNIST trunk re-run on another machine, the same trunk records, and the branches "
        "run since), `results/study2-fmnist-trunk/export` and "
        "`results/study2-overlap.csv`. Differences in percentage points, paired by seed, 5 "
        "seeds, 95% Student-t intervals; every p is Holm-adjusted over the page's "
        f"{family[1]} pooled tests; the {levels[1]} per-level tests are the second family. "
        "Levels: every fourth round, pooled over the levels where no network has lost an "
        "output unit (disconnected levels left out, named).",
        "",
        "## Ticket minus re-init: found on (rows) and trained on (columns)",
        "",
    ]
    for setting, label in SETTINGS.items():
        out += [f"### {label}", ""]
        grid = []
        for found in RUNS:
            grid.append(
                [f"found on {NAMES[found]}"]
                + [cell(matrix.get((found, trained, setting))) for trained in RUNS]
            )
        out.append(table(["", *(f"trained on {NAMES[d]}" for d in RUNS)], grid))
        left = sorted({r for c in matrix.values() if c.setting == setting for r in c.disconnected})
        out += [
            f"Levels left out as disconnected: rounds {', '.join(map(str, left)) or 'none'}.",
            "",
        ]
    out += [
        "## On each dataset, the ticket found there minus the ticket found on the other",
        "",
    ]
    out.append(
        table(
            ["trained on", "setting", "difference (pp)", "rounds pooled", "per level"],
            [
                [
                    NAMES[trained],
                    SETTINGS[setting],
                    cell(c),
                    f"{c.pooled_rounds[0]}-{c.pooled_rounds[-1]}" if c.pooled_rounds else "none",
                    c.levels(),
                ]
                for (trained, setting), c in sorted(direct.items())
            ],
        )
    )
    overlap = overlap_rows()
    if overlap:
        out += [
            "## Mask overlap",
            "",
            "Jaccard similarity (all tensors, counts summed), mean over the pairs of masks with "
            "its range, beside the chance level of independent masks of the same per-tensor "
            "densities. Same seed across runs (same initial weights); between seeds within a "
            "run; large_init: each ticket against the same number of its initial weights of "
            "largest magnitude per tensor.",
            "",
        ]
        whats = list(dict.fromkeys(r["comparison"] for r in overlap))
        lines = []
        for rnd in sorted({int(r["round"]) for r in overlap}):
            if rnd % 4:
                continue
            for what in whats:
                cells = [
                    r
                    for r in overlap
                    if r["comparison"] == what and int(r["round"]) == rnd and r["tensor"] == "all"
                ]
                if not cells:
                    continue
                js = [float(r["jaccard"]) for r in cells]
                chance = sum(float(r["chance"]) for r in cells) / len(cells)
                lines.append(
                    [
                        str(rnd),
                        f"{float(cells[0]['weights_remaining']) * 100:.3g}%",
                        what,
                        f"{sum(js) / len(js):.3f} [{min(js):.3f}, {max(js):.3f}]",
                        f"{chance:.3f}",
                        str(len(cells)),
                    ]
                )
        out.append(
            table(["round", "weights", "comparison", "Jaccard [range]", "chance", "pairs"], lines)
        )
    out += ["", *length_section(), *scale_section()]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
