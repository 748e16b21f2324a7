"""The sweep report: one figure per grid dimension, a table of trials, the verdicts per
grid point (seeds pooled across the trials of a point), and every trial's per-training
records in one CSV (and Parquet where pyarrow is installed)."""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ticketlab.analysis.verdicts import Options, compare, correct_pooled
from ticketlab.config import display_setting
from ticketlab.data.datasets import display
from ticketlab.experiments.lottery import in_trunk
from ticketlab.store.files import atomic_write, atomic_write_text, csv_text
from ticketlab.store.rundir import RunDir
from ticketlab.sweeps.runner import TRIALS
from ticketlab.sweeps.status import format_status, open_index, trial_rows


def records(root: Path) -> list[dict[str, Any]]:
    """Every finished training of every trial, with the trial's name and grid values."""
    index = open_index(root)
    rows = []
    for name, info in index["trials"].items():
        path = root / TRIALS / name
        if not (path / "config.yaml").is_file():
            continue
        point = {f"grid.{k}": v for k, v in info["point"].items()}
        rd = RunDir.open(path)
        rows += [
            r | {"trial": name, "trunk": in_trunk(rd.config, r["dataset"], r["setting"])} | point
            for r in rd.summaries()
        ]
    return rows


def _dimension_figure(rows: list[dict[str, Any]], key: str, out: Path) -> Path | None:
    """Main-dataset ticket accuracy against weights remaining, one curve per value of
    ``key`` (the mean over seeds and the other grid values), band min-max over seeds."""
    mine = [r for r in rows if r["kind"] == "ticket" and r["trunk"]]
    if not mine:
        return None
    # matplotlib on first use (the figures module sets its backend): importing it costs
    # every command, `--help` included.
    import matplotlib.pyplot as plt

    from ticketlab.analysis.figures import level_axis, slug

    fig, ax = plt.subplots(figsize=(7, 4.5))
    values = {json.dumps(r[f"grid.{key}"]): r[f"grid.{key}"] for r in mine}  # lists too
    for value in values.values():
        by: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in mine:
            if r[f"grid.{key}"] == value:
                by[r["round"]].append(r)
        rounds = sorted(by)
        x = [100 * np.mean([r["weights_remaining"] for r in by[k]]) for k in rounds]
        per_seed = [
            [np.mean([r["es_test_acc"] for r in by[k] if r["seed"] == s]) for s in seeds]
            for k in rounds
            for seeds in [sorted({r["seed"] for r in by[k]})]
        ]
        mean = [100 * np.mean(v) for v in per_seed]
        ax.plot(x, mean, "-o", ms=3, label=f"{key} = {value}")
        ax.fill_between(
            x, [100 * min(v) for v in per_seed], [100 * max(v) for v in per_seed], alpha=0.2, lw=0
        )
    level_axis(ax, [100 * r["weights_remaining"] for r in mine])
    ax.set_ylabel("ticket test accuracy at early stopping (%)")
    ax.set_title(f"{display(mine[0]['dataset'])}: by {key}; band: min-max over seeds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out / f"sweep-{slug(key)}.png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=150, format="png"))
    plt.close(fig)
    return path


def write_sweep_report(root: str | Path) -> list[Path]:
    root = Path(root)
    index = open_index(root)
    rows = records(root)
    main = index["base"]["data"]["dataset"]
    figures = [p for k in index["grid"] if (p := _dimension_figure(rows, k, root / "figures"))]
    by_point: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        point = ", ".join(f"{k}={r[f'grid.{k}']}" for k in index["grid"]) or "base"
        by_point[point].append(r)
    shown = [
        (point, c)
        for point, mine in by_point.items()
        for c in compare(mine, "es_test_acc", Options())
        if c.dataset == main
    ]
    correct_pooled([c for _, c in shown])  # the page's verdicts: one Holm family
    verdicts = [
        [point, display(c.dataset), display_setting(c.setting), c.control, c.headline()]
        for point, c in shown
    ]
    status = format_status(trial_rows(root))
    md = [
        f"# ticketlab sweep report: {root}",
        "",
        "Verdicts pool each grid point's seeds across its trials (ticket minus control, "
        "paired by seed, the pooled test of `ticketlab report`), Holm-adjusted together: "
        "every verdict of the page is one family, named in it. An inconclusive verdict "
        "is not evidence of no difference: read its interval.",
        "",
        "## Verdicts per grid point",
        "",
        "| grid point | dataset | setting | control | pooled verdict |",
        "| --- | --- | --- | --- | --- |",
        *["| " + " | ".join(v) + " |" for v in verdicts],
        "",
        "## Trials",
        "",
        "```",
        status,
        "```",
        "",
        "## Figures",
        "",
        *[f"![{p.stem}](figures/{p.name})" for p in figures],
        "",
    ]
    paths = [root / "report.md", root / "report.html", root / "trainings.csv"]
    atomic_write_text(paths[0], "\n".join(md))
    body = "".join(
        f"<img alt='{html.escape(p.stem)}' src='data:image/png;base64,"
        f"{base64.b64encode(p.read_bytes()).decode()}'>"
        for p in figures
    )
    table = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in v) + "</tr>" for v in verdicts
    )
    atomic_write_text(
        paths[1],
        "<!doctype html><meta charset='utf-8'><title>ticketlab sweep</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}td{padding:.2em .6em}"
        "img{max-width:100%}</style>"
        f"<h1>ticketlab sweep report: {html.escape(str(root))}</h1><h2>Verdicts per grid "
        f"point</h2><table><tr><th>grid point</th><th>dataset</th><th>setting</th>"
        f"<th>control</th><th>pooled verdict</th></tr>{table}</table><h2>Trials</h2>"
        f"<pre>{html.escape(status)}</pre><h2>Figures</h2>{body}\n",
    )
    fields = list(dict.fromkeys(k for r in rows for k in r))
    flat = [{k: _plain(r.get(k)) for k in fields} for r in rows]
    atomic_write_text(paths[2], csv_text(fields, flat))
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return [*paths, *figures]
    table_pq = pa.Table.from_pylist(flat)
    parquet = root / "trainings.parquet"
    atomic_write(parquet, lambda tmp: pq.write_table(table_pq, tmp))
    return [*paths, parquet, *figures]


def _plain(v: Any) -> Any:
    """A CSV or Parquet cell: numbers and text as they are, anything else as JSON."""
    return v if isinstance(v, (int, float, str, bool, type(None))) else json.dumps(v)
