"""The Frankle & Carbin run's per-level tests as one family, from the records under
``results/``:

    .venv/bin/python scripts/frankle_carbin_dense.py

Per level, paired by seed: the ticket minus its re-init (21 levels), and the ticket and the
re-init each minus the dense network of the same seed (round 0's ticket; 20 pruned levels
each), test accuracy at early stopping, with 95% Student-t intervals and p-values
Holm-adjusted over all 61 tests of the page (one family).
"""

from __future__ import annotations

import json
from pathlib import Path

from ticketlab.analysis.stats import holm, paired_test

RECORDS = Path(__file__).parents[1] / "results/study-frankle-carbin/export/trainings.json"


def main() -> None:
    rows = json.loads(RECORDS.read_text())
    acc = {(r["round"], r["seed"], r["control"] or "ticket"): r["es_test_acc"] for r in rows}
    weights = {r["round"]: r["weights_remaining"] for r in rows}
    seeds = sorted({r["seed"] for r in rows})
    rounds = sorted({r["round"] for r in rows} - {0})
    tests = {
        (arm, rnd): paired_test([acc[(rnd, s, arm)] - acc[(0, s, "ticket")] for s in seeds])
        for arm in ("ticket", "reinit")
        for rnd in rounds
    }
    tests |= {
        ("gap", rnd): paired_test(
            [acc[(rnd, s, "ticket")] - acc[(rnd, s, "reinit")] for s in seeds]
        )
        for rnd in [0, *rounds]
    }
    keys = list(tests)
    adjusted = dict(zip(keys, holm([tests[k].p for k in keys]), strict=True))

    def cell(arm: str, rnd: int) -> str:
        t = tests[(arm, rnd)]
        lo, hi = t.ci
        return (
            f"{t.mean * 100:+.2f} [{lo * 100:+.2f}, {hi * 100:+.2f}] | {adjusted[(arm, rnd)]:.2g}"
        )

    print(
        "| weights remaining | ticket minus re-init, pp [95% interval] | Holm p "
        "| ticket minus dense | Holm p | re-init minus dense | Holm p |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for rnd in [0, *rounds]:
        dense = "n/a | | n/a |" if rnd == 0 else f"{cell('ticket', rnd)} | {cell('reinit', rnd)}"
        print(f"| {weights[rnd] * 100:.3g}% | {cell('gap', rnd)} | {dense} |")
    print(f"\n{len(seeds)} seeds; Holm over the {len(keys)} tests of the table.")


if __name__ == "__main__":
    main()
