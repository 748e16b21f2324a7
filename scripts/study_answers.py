"""Print the study's answers (README, "The reference's open questions") as Markdown tables,
from the records of the runs that scripts/study.sh makes:

    .venv/bin/python scripts/study_answers.py [runs/study-trunk] [runs/study-fixed]
        [--without BRANCH]...

Every comparison is paired by seed; "pooled" is the mean over pruned levels (rounds 1 and
up) of each seed's difference, tested over seeds (ticketlab.stats).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any

from ticketlab.analysis.stats import paired_test, pooled_test
from ticketlab.analysis.verdicts import Comparison, Options, compare
from ticketlab.store.rundir import RunDir


def pp(x: float) -> str:
    return f"{x * 100:+.2f}"


def interval(c: tuple[float, float] | None) -> str:
    return "n/a" if c is None else f"[{pp(c[0])}, {pp(c[1])}]"


def pooled_row(c: Comparison) -> list[str]:
    t = c.pooled
    p = "n/a" if t.p is None else f"{t.p:.2g}"
    return [pp(t.mean), interval(t.ci), p, str(t.n)]


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def advantage(
    rows: list[dict[str, Any]],
    dataset: str,
    control: str = "reinit",
    setting: str | None = None,
    field: str = "es_test_acc",
) -> dict[int, dict[int, float]]:
    """Ticket minus ``control`` (``field``) by pruned round and seed."""
    val: dict[tuple[int, int, str], float] = {}
    for r in rows:
        wanted = r["dataset"] == dataset and r["control"] in (None, control)
        if wanted and r.get(field) is not None and setting in (None, r["setting"]):
            val[(r["round"], r["seed"], r["control"] or "ticket")] = r[field]
    diffs: dict[int, dict[int, float]] = defaultdict(dict)
    for (rnd, seed, who), v in val.items():
        if who == "ticket" and rnd > 0 and (rnd, seed, control) in val:
            diffs[rnd][seed] = v - val[(rnd, seed, control)]
    return diffs


def controls_on_common_rounds(rows: list[dict[str, Any]], dataset: str, setting: str) -> str:
    """Ticket minus each control, accuracy and sign flips, pooled over the pruned rounds
    every control has (so the controls are compared on the same levels)."""
    controls = sorted(
        {
            r["control"]
            for r in rows
            if r["control"] and r["dataset"] == dataset and r["setting"] == setting
        }
    )
    acc = {c: advantage(rows, dataset, c, setting) for c in controls}
    flips = {c: advantage(rows, dataset, c, setting, "sign_flip_final") for c in controls}
    levels = sorted(set.intersection(*(set(d) for d in acc.values()))) if acc else []
    out = []
    for c in controls:
        ta, _, _ = pooled_test(acc[c], levels)
        tf, _, _ = pooled_test(flips[c], levels)
        out.append(
            [
                c,
                pp(ta.mean),
                interval(ta.ci),
                f"{ta.p:.2g}" if ta.p is not None else "n/a",
                pp(tf.mean),
                interval(tf.ci),
                str(ta.n),
            ]
        )
    span = ", ".join(map(str, levels))
    header = ["control", "accuracy (pp)", "95% CI", "p", "sign flips (pp)", "95% CI", "seeds"]
    return f"{dataset}, {setting}; rounds {span}\n\n" + table(header, out)


def ablation(per_round: RunDir, fixed: RunDir, last: int | None = None) -> str:
    """The pooled MNIST advantage under each data order, over the rounds both runs have (up
    to ``last``), and their difference paired by seed (both runs draw the same initial
    weights)."""
    a = advantage(per_round.summaries(), per_round.config.data.dataset)
    b = advantage(fixed.summaries(), fixed.config.data.dataset)
    levels = sorted(lv for lv in set(a) & set(b) if last is None or lv <= last)
    ta, _, seeds_a = pooled_test(a, levels)
    tb, _, seeds_b = pooled_test(b, levels)
    seeds = sorted(set(seeds_a) & set(seeds_b))
    diff = paired_test([sum(b[lv][s] - a[lv][s] for lv in levels) / len(levels) for s in seeds])
    rows = [
        [name, pp(t.mean), interval(t.ci), f"{t.p:.2g}", str(t.n)]
        for name, t in (("per_round", ta), ("fixed", tb), ("fixed minus per_round", diff))
    ]
    span = f"rounds {levels[0]}-{levels[-1]}" if levels else "no common rounds"
    header = ["data order", f"ticket - reinit (pp), {span}", "95% CI", "p", "seeds"]
    return table(header, rows)


def settings_flips(rows: list[dict[str, Any]]) -> str:
    """The ticket's sign-flip share in each setting against the first, per dataset, paired
    by seed and round, pooled over the pruned rounds."""
    by: dict[tuple[str, str], dict[tuple[int, int], float]] = defaultdict(dict)
    for r in rows:
        if r["kind"] == "ticket" and r.get("sign_flip_final") is not None:
            by[(r["dataset"], r["setting"])][(r["round"], r["seed"])] = r["sign_flip_final"]
    out = []
    for ds in sorted({d for d, _ in by}):
        settings = [s for d, s in by if d == ds]
        for other in settings[1:]:
            diffs: dict[int, dict[int, float]] = defaultdict(dict)
            for (rnd, seed), v in by[(ds, other)].items():
                if rnd > 0 and (rnd, seed) in by[(ds, settings[0])]:
                    diffs[rnd][seed] = v - by[(ds, settings[0])][(rnd, seed)]
            test, levels, _ = pooled_test(diffs, sorted(diffs))
            p = "n/a" if test.p is None else f"{test.p:.2g}"
            out.append(
                [
                    ds,
                    f"{other} minus {settings[0]}",
                    pp(test.mean),
                    interval(test.ci),
                    p,
                    f"{len(levels)} rounds, {test.n} seeds",
                ]
            )
    return table(["dataset", "ticket flips", "pp", "95% CI", "p", "pooled over"], out)


def main(argv: list[str]) -> None:
    # --without NAME leaves out a branch still running (e.g. transfer-fill), so that the
    # tables of the finished steps do not move while it runs.
    without = [argv[i + 1] for i, a in enumerate(argv) if a == "--without"]
    argv = [a for i, a in enumerate(argv) if a != "--without" and argv[i - 1 : i] != ["--without"]]
    trunk = RunDir.open(argv[0] if argv else "runs/study-trunk")
    rows = [
        r
        for r in trunk.summaries()
        if not any((r["branch"] or "").startswith(f"branches/{name}-") for name in without)
    ]
    opts = Options()
    print("## Ticket minus control, test accuracy at early stopping (pooled)\n")
    acc = compare(rows, "es_test_acc", opts)
    print(
        table(
            ["dataset", "setting", "control", "pp", "95% CI", "p", "seeds", "per level"],
            [
                [c.dataset, c.setting, c.control, *pooled_row(c), c.levels()]
                for c in sorted(acc, key=lambda c: (c.dataset, c.setting, c.control))
            ],
        )
    )
    print("\n## Ticket minus control, share of kept weights that flipped sign (pooled)\n")
    flips = compare(rows, "sign_flip_final", opts)
    print(
        table(
            ["dataset", "setting", "control", "pp", "95% CI", "p", "seeds"],
            [
                [c.dataset, c.setting, c.control, *pooled_row(c)]
                for c in sorted(flips, key=lambda c: (c.dataset, c.setting, c.control))
            ],
        )
    )
    main_ds, main_setting = trunk.config.data.dataset, trunk.config.train.label()
    print("\n## Ticket minus each control on the rounds they share (pooled)\n")
    print(controls_on_common_rounds(rows, main_ds, main_setting))
    for ds in sorted({r["dataset"] for r in rows} - {trunk.config.data.dataset}):
        for setting in sorted({r["setting"] for r in rows if r["dataset"] == ds}):
            print(f"\n## {ds}: ticket minus each control on the rounds they share (pooled)\n")
            print(controls_on_common_rounds(rows, ds, setting))
    print("\n## The ticket's sign flips between settings (pooled)\n")
    print(settings_flips(rows))
    if len(argv) > 1 or not argv:
        fixed = RunDir.open(argv[1] if len(argv) > 1 else "runs/study-fixed")
        print("\n## Data-order ablation: MNIST ticket minus reinit, pooled over pruned rounds\n")
        print(ablation(trunk, fixed))
        print("\nThe same over rounds 1-16 (2.5% of weights and up, before both fall off):\n")
        print(ablation(trunk, fixed, last=16))


if __name__ == "__main__":
    main(sys.argv[1:])
