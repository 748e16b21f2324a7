"""The study's answers as Markdown, from the records committed under ``results/``:

    .venv/bin/python scripts/study_answers.py > results/study-answers.md

Reads the exports of the study's trunk (with its branches: signs, transfer, transfer-fill,
magnitudes) and of the data-order ablation. Every comparison pairs ticket and control by
seed within one run. The page's tests form two Holm families, named in every verdict:
every pooled test below (accuracy, sign flips, the ablation, direct comparisons, the
ticket's flips between settings), and every per-level accuracy test. Levels where a
network has lost a whole output unit or layer ("disconnected", a rule fixed in code) are
left out of a pooled test of a ticket against a control and reported apart.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ticketlab.analysis.stats import pooled_test
from ticketlab.analysis.verdicts import (
    Comparison,
    Options,
    at_equal_steps,
    compare,
    compare_arms,
    compare_settings,
    correct_levels,
    correct_pooled,
    disconnected_levels,
    format_p,
    gap_shares,
)

RESULTS = Path(__file__).parents[1] / "results"
SGD, ADAM = "sgd lr=0.01, 3 epochs", "adam lr=0.0012, 10 epochs"
NAMES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR-10"}
NAMES |= {"maxgroup": "MaxGroup", SGD: "SGD lr 1e-2, 3 epochs", ADAM: "Adam, 10 epochs"}


def load(name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    export = RESULTS / name / "export"
    rows = json.loads((export / "trainings.json").read_text())
    with gzip.open(export / "evals.csv.gz", "rt") as f:
        evals = list(csv.DictReader(f))
    return rows, evals


def fill_disconnection(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trunk and the first transfer branch ran before records carried
    ``units_without_inputs``; the later branches carry it. Every arm of a seed and round
    trains on the ticket's mask, and IMP's masks are nested (a unit without inputs at one
    round has none at every later one, one with inputs had them at every earlier one), so
    each record missing the field gets its seed's state at that round: cut from the first
    round a cut output unit is seen on, intact up to the last round an intact one is seen
    on, and, where neither is known, counted as cut (left out of the pool)."""
    seen: dict[int, dict[int, bool]] = {}
    for r in rows:
        units = r.get("units_without_inputs")
        if units:
            cut = list(units.values())[-1] > 0
            by_round = seen.setdefault(r["seed"], {})
            by_round[r["round"]] = by_round.get(r["round"], False) or cut
    out = []
    for r in rows:
        if r.get("units_without_inputs"):
            out.append(r)
            continue
        by_round = seen.get(r["seed"], {})
        first_cut = min((k for k, v in by_round.items() if v), default=None)
        last_intact = max((k for k, v in by_round.items() if not v), default=-1)
        intact = r["round"] <= last_intact and (first_cut is None or r["round"] < first_cut)
        out.append(r | {"units_without_inputs": {"output": 0 if intact else 1}})
    return out


def pp(x: float) -> str:
    return f"{x * 100:+.2f}"


def ci(c: tuple[float, float] | None) -> str:
    return "n/a" if c is None else f"[{pp(c[0])}, {pp(c[1])}]"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def verdict_row(c: Comparison) -> list[str]:
    """Pooled difference, interval, p alone, p in the family, the verdict's first words,
    the levels pooled and those left out as disconnected."""
    t = c.pooled
    word = c.headline().split(":")[0]
    left_out = ", ".join(map(str, c.disconnected)) or "none"
    span = f"{c.pooled_rounds[0]}-{c.pooled_rounds[-1]}" if c.pooled_rounds else "none"
    return [pp(t.mean), ci(t.ci), format_p(t.p), format_p(c.pooled_p_adj), word, span, left_out]


VERDICT_HEADER = ["pp", "95% CI", "p", "p (Holm, page)", "verdict", "rounds pooled", "left out"]


def descriptive(c: Comparison) -> str:
    """A pooled difference with its interval, without a verdict."""
    return f"{pp(c.pooled.mean)} {ci(c.pooled.ci)}"


def flagged_pool(c: Comparison) -> str:
    """The disconnected levels pooled on their own: an interval, no verdict."""
    if not c.disconnected:
        return "none"
    t, _, _ = pooled_test(c.diffs, c.disconnected)
    return f"{pp(t.mean)} {ci(t.ci)}"


def shares_table(comparisons: list[Comparison]) -> str:
    """The share of the ticket's lead over the re-init each control closes, with its
    Fieller interval."""
    shares = sorted(gap_shares(comparisons), key=lambda g: (g.dataset, g.setting, g.control))
    return table(
        ["dataset", "setting", "control", "rounds", "share closed (95% Fieller)"],
        [
            [
                NAMES[g.dataset],
                NAMES[g.setting],
                g.control,
                f"{g.rounds[0]}-{g.rounds[-1]}",
                g.describe(),
            ]
            for g in shares
        ],
    )


def stops_at_last(rows: list[dict[str, Any]], evals: list[dict[str, Any]]) -> str:
    """Share of trainings whose early-stopping step is their last evaluation."""
    from ticketlab.analysis.verdicts import training_id

    last: dict[str, int] = {}
    for e in evals:
        last[e["training_id"]] = max(last.get(e["training_id"], 0), int(e["step"]))
    count: Counter[tuple[str, str, str]] = Counter()
    at_end: Counter[tuple[str, str, str]] = Counter()
    for r in rows:
        if r["round"] == 0 or training_id(r) not in last:
            continue
        k = (r["dataset"], r["setting"], r["control"] or "ticket")
        count[k] += 1
        at_end[k] += r["es_step"] == last[training_id(r)]
    out = [
        [
            NAMES[d],
            NAMES[s],
            arm,
            f"{at_end[(d, s, arm)]}/{n}",
            f"{100 * at_end[(d, s, arm)] / n:.0f}%",
        ]
        for (d, s, arm), n in sorted(count.items())
    ]
    return table(["dataset", "setting", "arm", "stopped at the last step", "share"], out)


def main() -> None:
    rows, evals = load("study-trunk")
    fixed_rows, _ = load("study-fixed")
    rows = fill_disconnection(rows)  # the ablation's records carry no unit counts at all
    without_magnitudes = [r for r in rows if not (r["branch"] or "").startswith("branches/magn")]
    opts = Options()

    # A. MNIST and C. the transfer grid: the ticket against each control.
    acc = compare(without_magnitudes, "es_test_acc", opts)
    flips = compare(without_magnitudes, "sign_flip_es", opts)
    final = {
        (c.dataset, c.setting, c.control): c
        for c in compare(without_magnitudes, "sign_flip_final", opts)
    }
    # B. The ablation: (ticket - reinit) under the fixed order minus under per_round.
    cut = disconnected_levels(rows)
    ablation_rows = []
    for name, source in (("fixed", fixed_rows), ("per_round", rows)):
        (c,) = [
            c
            for c in compare(
                [r for r in source if r["dataset"] == "mnist"], options=Options(disconnected="keep")
            )
            if c.control == "reinit"
        ]
        for rnd, by_seed in c.diffs.items():
            for seed, d in by_seed.items():
                ablation_rows.append(
                    {"dataset": "mnist", "setting": ADAM, "round": rnd, "seed": seed}
                    | {
                        "kind": "ticket" if name == "fixed" else "control",
                        "control": None if name == "fixed" else "per_round",
                    }
                    | {"weights_remaining": 0.8**rnd, "lead": d}
                )
    unflagged = max(r for r in range(1, 21) if ("mnist", ADAM, "", r) not in cut)
    (ablation,) = compare(
        ablation_rows, "lead", Options(pool_rounds=(1, unflagged), disconnected="keep")
    )
    ablation.first = "fixed"
    # E. The ticket's flips, SGD against Adam, at equal steps.
    transfer = [r for r in without_magnitudes if r["dataset"] != "mnist"]
    stepped, at = at_equal_steps(transfer, evals)
    steps = compare_settings(stepped, SGD, ADAM, "sign_flip_step", options=opts)
    steps_es = compare_settings(transfer, SGD, ADAM, "sign_flip_es", options=opts)
    # F. The reshuffle: every fourth round, with the magnitudes branch.
    fourth = [r for r in rows if r["round"] % 4 == 0]
    acc4 = compare(fourth, "es_test_acc", opts)
    reshuffle = [c for c in acc4 if c.control == "reshuffle"]
    direct = [
        c
        for other in ("signed_reinit", "signed_constant")
        for c in compare_arms(fourth, "reshuffle", other, options=opts)
    ]

    pooled = [*acc, *flips, ablation, *steps, *reshuffle, *direct]
    correct_pooled(pooled)
    correct_levels([*acc, ablation, *reshuffle, *direct])
    (family,) = {c.family for c in pooled if c.family}
    (levels,) = {c.level_family for c in acc if c.level_family}

    out = [
        "# The study's answers (generated)",
        "",
        "Made by `.venv/bin/python scripts/study_answers.py > results/study-answers.md` from "
        "`results/study-trunk/export` and `results/study-fixed/export`. Ticket (or first arm) "
        "minus control in percentage points, paired by seed, 5 seeds, Student-t intervals. "
        f"Two Holm families over this page: the {family[1]} pooled tests below (column "
        f'"p (Holm, page)"), and the {levels[1]} per-level accuracy tests. A verdict is drawn '
        "from the family-adjusted p-value. Disconnected levels (any network with an output "
        "unit without inputs, or a layer without weights) are left out of a pooled test and "
        "pooled on their own in the last column where a table has one.",
        "",
        "## MNIST, Adam (the trunk): ticket minus each control, accuracy at early stopping",
        "",
    ]
    mnist = sorted((c for c in acc if c.dataset == "mnist"), key=lambda c: c.control)
    out.append(
        table(
            ["control", *VERDICT_HEADER, "disconnected levels pooled alone"],
            [[c.control, *verdict_row(c), flagged_pool(c)] for c in mnist],
        )
    )
    out += ["Per level (Holm over the page's per-level tests):", ""]
    out += [f"- {c.control}: {c.levels()}" for c in mnist] + [""]
    out += ["## MNIST: sign flips at early stopping, ticket minus control", ""]
    out.append(
        table(
            ["control", *VERDICT_HEADER, "at the end of training"],
            [
                [
                    c.control,
                    *verdict_row(c),
                    descriptive(final[(c.dataset, c.setting, c.control)]),
                ]
                for c in sorted((c for c in flips if c.dataset == "mnist"), key=lambda c: c.control)
            ],
        )
    )
    out += [
        "## Data-order ablation: the MNIST ticket's lead over the re-init, fixed minus per_round",
        "",
    ]
    out.append(
        table(["comparison", *VERDICT_HEADER], [["fixed minus per_round", *verdict_row(ablation)]])
    )
    out += [
        "## Transfer: ticket minus each control, accuracy at early stopping",
        "",
        "Rounds 2-20 (every second round) pooled; round 0 (dense) is a level of the "
        "per-level tests only.",
        "",
    ]
    grid = sorted(
        (c for c in acc if c.dataset != "mnist"), key=lambda c: (c.dataset, c.setting, c.control)
    )
    out.append(
        table(
            ["dataset", "setting", "control", *VERDICT_HEADER, "disconnected levels pooled alone"],
            [
                [NAMES[c.dataset], NAMES[c.setting], c.control, *verdict_row(c), flagged_pool(c)]
                for c in grid
            ],
        )
    )
    out += ["Per level (Holm over the page's per-level tests):", ""]
    out += [
        f"- {NAMES[c.dataset]}, {NAMES[c.setting]}, {c.control}: {c.levels()}" for c in grid
    ] + [""]
    out += [
        "Per level under SGD, ticket against the re-init: mean test accuracy (%) of each "
        "and the difference (pp) with its 95% interval (d: a disconnected level):",
        "",
    ]
    sgd_reinit = [c for c in grid if c.setting == SGD and c.control == "reinit"]
    header = ["round", "weights"] + [
        f"{NAMES[c.dataset]} {what}" for c in sgd_reinit for what in ("ticket", "reinit", "diff")
    ]
    lines = []
    for i, row in enumerate(sgd_reinit[0].rows):
        cells = [str(row.round) + (" d" if row.round in sgd_reinit[0].disconnected else "")]
        cells.append(f"{row.weights * 100:.3g}%")
        for c in sgd_reinit:
            r = c.rows[i]
            cells += [f"{r.ticket * 100:.1f}", f"{r.control * 100:.1f}", f"{pp(r.diff)} {ci(r.ci)}"]
        lines.append(cells)
    out.append(table(header, lines))
    out += ["## Shares of the ticket's lead over the re-init closed by each signed control", ""]
    out.append(shares_table(acc))
    out += ["## Transfer: sign flips at early stopping, ticket minus control", ""]
    out.append(
        table(
            ["dataset", "setting", "control", *VERDICT_HEADER, "at the end of training"],
            [
                [
                    NAMES[c.dataset],
                    NAMES[c.setting],
                    c.control,
                    *verdict_row(c),
                    descriptive(final[(c.dataset, c.setting, c.control)]),
                ]
                for c in sorted(
                    (c for c in flips if c.dataset != "mnist"),
                    key=lambda c: (c.dataset, c.setting, c.control),
                )
            ],
        )
    )
    out += [
        "## The ticket's sign flips, SGD minus Adam",
        "",
        "At equal steps (the last step every training of the dataset evaluated: "
        + ", ".join(f"{NAMES[d]} {s:,}" for d, s in sorted(at.items()))
        + "), and at each setting's early-stopping step (different lengths).",
        "",
    ]
    es_by = {c.dataset: c for c in steps_es}
    out.append(
        table(
            ["dataset", *VERDICT_HEADER, "at early stopping (no verdict)"],
            [
                [
                    NAMES[c.dataset],
                    *verdict_row(c),
                    descriptive(es_by[c.dataset]),
                ]
                for c in sorted(steps, key=lambda c: c.dataset)
            ],
        )
    )
    out += [
        "## Where early stopping lands: trainings whose minimum validation loss is at "
        "their last evaluation",
        "",
    ]
    out.append(stops_at_last([r for r in without_magnitudes if r["dataset"] != "mnist"], evals))
    out += [
        "## The reshuffle (rounds 4-20, every fourth round, with the magnitudes branch)",
        "",
        "Ticket minus the reshuffle, and the reshuffle directly against each signed control "
        "(first minus second), accuracy at early stopping:",
        "",
    ]
    out.append(
        table(
            ["dataset", "setting", "comparison", *VERDICT_HEADER],
            [
                [
                    NAMES[c.dataset],
                    NAMES[c.setting],
                    f"{c.first} minus {c.control}",
                    *verdict_row(c),
                ]
                for c in sorted(
                    [*reshuffle, *direct], key=lambda c: (c.dataset, c.setting, c.control)
                )
            ],
        )
    )
    out += ["Shares of the ticket's lead over the re-init closed, on these rounds:", ""]
    out.append(shares_table(acc4))
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
