"""The pilot that chooses the "long" training length of the training-length experiment:

    .venv/bin/python scripts/pilot_length.py runs/pilot-trunk [--dataset NAME]

The pilot trains each arm for 40 epochs (constant learning rate). Training for L epochs is
the first L epochs of that training (the data order of an epoch depends on the seed and the
epoch only; no schedule), so for every L it finds where early stopping would land: the
evaluation of least validation loss up to step L x (steps an epoch). It prints, per
dataset, setting and L, the share of trainings whose early stop falls before the last fifth
of training, and the shortest L at which at least 80% do (capped at 40).
"""

from __future__ import annotations

import sys
from collections import defaultdict

from ticketlab.store.rundir import RunDir


def main(argv: list[str]) -> None:
    run = RunDir.open(argv[0])
    only = argv[argv.index("--dataset") + 1] if "--dataset" in argv else None
    rows = {
        r["training_id"]: r
        for r in run.summaries()
        if r["dataset"] != run.config.data.dataset and only in (None, r["dataset"])
    }
    curves: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for e in run.all_evals():
        if e["training_id"] in rows:
            curves[e["training_id"]].append((e["step"], e["val_loss"]))
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for tid, r in rows.items():
        groups[(r["dataset"], r["setting"])].append(tid)
    print(
        "| dataset | setting | trainings | share stopping before the last fifth, by epochs L "
        "| shortest L with >= 80% |"
    )
    print("| --- | --- | --- | --- | --- |")
    overall: dict[int, list[bool]] = defaultdict(list)
    for (ds, setting), ids in sorted(groups.items()):
        epochs = int(setting.rsplit(" epochs", 1)[0].rsplit(" ", 1)[1])
        per_epoch = rows[ids[0]]["steps"] // epochs
        shares = {}
        for length in range(1, epochs + 1):
            end = length * per_epoch
            early = []
            for tid in ids:
                points = sorted(p for p in curves[tid] if p[0] <= end)
                best = min(points, key=lambda p: (p[1], p[0]))[0]
                early.append(best < 0.8 * end)
            shares[length] = sum(early) / len(early)
            overall[length] += early
        first = next((L for L, s in shares.items() if s >= 0.8), None)
        shown = ", ".join(
            f"{L}: {shares[L]:.0%}" for L in (3, 5, 10, 15, 20, 25, 30, 35, 40) if L in shares
        )
        print(f"| {ds} | {setting} | {len(ids)} | {shown} | {first or 'none within the cap'} |")
    first = next((L for L in sorted(overall) if sum(overall[L]) / len(overall[L]) >= 0.8), None)
    print(
        f"\nAll trainings together: the shortest L with >= 80% is {first or 'none within the cap'}."
    )


if __name__ == "__main__":
    main(sys.argv[1:])
