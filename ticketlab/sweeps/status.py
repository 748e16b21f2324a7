"""A sweep directory read back: each trial's state, progress and headline numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ticketlab.errors import TicketlabError
from ticketlab.store.rundir import RunDir
from ticketlab.sweeps.runner import STATE_FILE, SWEEP_FILE, TRIALS, read_json


def open_index(root: str | Path) -> dict[str, Any]:
    root = Path(root)
    index = read_json(root / SWEEP_FILE, None)
    if index is None:
        raise TicketlabError(f"{root} is not a sweep directory (no {SWEEP_FILE})")
    return index


def trial_rows(root: str | Path) -> list[dict[str, Any]]:
    """One row per trial: name, grid point, seeds, state (pending, running, interrupted,
    complete, failed), trainings done of total, the failure's message, and the main
    dataset's final-round ticket and control accuracies (means over seeds)."""
    root = Path(root)
    index = open_index(root)
    failed = read_json(root / STATE_FILE, {"failed": {}})["failed"]
    rows = []
    for name, info in index["trials"].items():
        row: dict[str, Any] = {"trial": name, **info, "error": failed.get(name)}
        path = root / TRIALS / name
        if not (path / "config.yaml").is_file():
            row |= {"state": "failed" if name in failed else "pending", "done": 0, "total": None}
            rows.append(row)
            continue
        rd = RunDir.open(path)
        st = rd.live_status()
        state = st["status"]
        if name in failed and state != "complete":
            state = "failed"
        elif state == "not started":
            state = "pending"
        row |= {"state": state, "done": st["trainings_done"], "total": st["trainings_total"]}
        row |= headline(rd)
        rows.append(row)
    return rows


def headline(rd: RunDir) -> dict[str, Any]:
    """The main dataset's accuracy at early stopping at its sparsest finished round."""
    cfg = rd.config
    mine = [
        r
        for r in rd.own_summaries()
        if r["dataset"] == cfg.data.dataset and r["setting"] == cfg.train.label()
    ]
    if not mine:
        return {}
    last = max(r["round"] for r in mine)
    out: dict[str, Any] = {"round": last}
    at = [r for r in mine if r["round"] == last]
    out["weights"] = at[0]["weights_remaining"]
    for curve in sorted({r["control"] or "ticket" for r in at}):
        vals = [r["es_test_acc"] for r in at if (r["control"] or "ticket") == curve]
        out[curve] = sum(vals) / len(vals)
    return out


def format_status(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'trial':<26} {'grid point':<44} {'seeds':<10} {'state':<12} {'done':>9}  headline"]
    for r in rows:
        point = ", ".join(f"{k}={v}" for k, v in r["point"].items()) or "base"
        done = f"{r['done']}/{r['total']}" if r["total"] else "-"
        head = ""
        if "ticket" in r:
            head = f"round {r['round']} ({r['weights'] * 100:.3g}% w): ticket {r['ticket']:.2%}"
            head += "".join(
                f", {k} {v:.2%}"
                for k, v in r.items()
                if k not in {"ticket", "round", "weights"} and isinstance(v, float)
            )
        if r["state"] == "failed":
            head = f"error: {r['error']}"
        seeds = ",".join(map(str, r["seeds"]))
        lines.append(f"{r['trial']:<26} {point:<44} {seeds:<10} {r['state']:<12} {done:>9}  {head}")
    return "\n".join(lines)
