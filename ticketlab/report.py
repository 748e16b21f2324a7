"""The run report: does a ticket beat its control, dataset by dataset, with statistics.

For every dataset, optimiser setting, control and round, the ticket-minus-control
difference in test accuracy at early stopping is paired by seed (ticket and control of a
seed share the mask and the data order); its mean and a 95% Student-t confidence interval
over seeds are reported. The verdict for a dataset and setting names the levels of pruning
where the interval lies above zero (ticket better) or below it (ticket worse); everywhere
else there is no significant difference. With one seed there is no interval and no verdict.

``write_report`` writes ``report.html`` (self-contained: figures embedded as data URIs, no
network needed) and ``report.md`` into the run directory.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .store import RunDir, atomic_write_text

# Two-sided 95% Student-t critical values t(0.975, df) for df = 1..30; 1.96 beyond.
T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t_critical(df: int) -> float:
    return T975[df - 1] if df <= len(T975) else 1.96


@dataclass
class Row:
    round: int
    weights: float
    ticket: float
    control: float
    diff: float
    ci: tuple[float, float] | None
    n: int

    @property
    def sign(self) -> int:
        """+1 ticket significantly better, -1 worse, 0 neither (or no interval)."""
        if self.ci is None:
            return 0
        return 1 if self.ci[0] > 0 else -1 if self.ci[1] < 0 else 0


@dataclass
class Comparison:
    dataset: str
    setting: str
    control: str
    rows: list[Row]

    def verdict(self) -> str:
        if all(r.ci is None for r in self.rows):
            return "no verdict: one seed gives no confidence interval (use --seeds 0 1 2)"
        parts = []
        for sign, word in ((1, "ticket better"), (-1, "ticket worse")):
            levels = [r for r in self.rows if r.sign == sign]
            if levels:
                parts.append(f"{word} at {_levels(levels)} weights remaining")
        if not parts:
            return "no significant difference at any level of pruning"
        if any(r.sign == 0 for r in self.rows):
            parts.append("no significant difference elsewhere")
        return "; ".join(parts)


def _levels(rows: list[Row]) -> str:
    return ", ".join(f"{r.weights * 100:.3g}%" for r in rows)


def compare(rows: list[dict[str, Any]]) -> list[Comparison]:
    """Paired ticket-vs-control comparisons for every dataset, setting and control."""
    ticket: dict[tuple, dict[int, float]] = defaultdict(dict)
    control: dict[tuple, dict[int, float]] = defaultdict(dict)
    weights: dict[tuple, float] = {}
    for r in rows:
        k = (r["dataset"], r["setting"], r["round"])
        if r["kind"] == "ticket":
            ticket[k][r["seed"]] = r["es_test_acc"]
            weights[k] = r["weights_remaining"]
        else:
            control[(*k, r["control"])][r["seed"]] = r["es_test_acc"]
    groups: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for (ds, setting, rnd, ctrl), by_seed in sorted(control.items()):
        t = ticket.get((ds, setting, rnd), {})
        seeds = sorted(set(t) & set(by_seed))
        if not seeds:
            continue
        diffs = [t[s] - by_seed[s] for s in seeds]
        n = len(diffs)
        mean = sum(diffs) / n
        ci = None
        if n > 1:
            sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
            half = t_critical(n - 1) * sd / math.sqrt(n)
            ci = (mean - half, mean + half)
        groups[(ds, setting, ctrl)].append(
            Row(
                rnd,
                weights[(ds, setting, rnd)],
                sum(t[s] for s in seeds) / n,
                sum(by_seed[s] for s in seeds) / n,
                mean,
                ci,
                n,
            )
        )
    return [
        Comparison(ds, st, c, sorted(rs, key=lambda r: r.round))
        for (ds, st, c), rs in groups.items()
    ]


def _pct(x: float) -> str:
    return f"{x * 100:.2f}"


def _ci(row: Row) -> str:
    return "n/a" if row.ci is None else f"[{row.ci[0] * 100:+.2f}, {row.ci[1] * 100:+.2f}]"


def _table_rows(c: Comparison) -> list[list[str]]:
    return [
        [
            str(r.round),
            f"{r.weights * 100:.2f}%",
            _pct(r.ticket),
            _pct(r.control),
            f"{r.diff * 100:+.2f}",
            _ci(r),
            {1: "better", -1: "worse", 0: ""}[r.sign],
        ]
        for r in c.rows
    ]


HEADER = ["round", "weights", "ticket %", "control %", "diff (pp)", "95% CI (pp)", ""]


def _ordered(comps: list[Comparison], main: str) -> list[Comparison]:
    return sorted(comps, key=lambda c: (c.dataset != main, c.dataset, c.setting, c.control))


def markdown(run: RunDir, comps: list[Comparison], figures: list[Path]) -> str:
    cfg = run.config
    seeds = ", ".join(map(str, cfg.seeds))
    lines = [
        f"# ticketlab report: {cfg.name}",
        "",
        f"Run `{run.path}`, seeds {seeds}. Test accuracy at the early-stopping iteration; "
        "differences are ticket minus control in percentage points, paired by seed, with "
        "a 95% Student-t interval over seeds.",
        "",
        "## Verdicts",
        "",
        "| dataset | setting | control | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for c in _ordered(comps, cfg.data.dataset):
        lines.append(f"| {c.dataset} | {c.setting} | {c.control} | {c.verdict()} |")
    lines += ["", "## Figures", ""]
    lines += [f"![{p.stem}](figures/{p.name})" for p in figures]
    for c in _ordered(comps, cfg.data.dataset):
        lines += [
            "",
            f"## {c.dataset} / {c.setting} / ticket vs {c.control}",
            "",
            "| " + " | ".join(HEADER) + " |",
            "|" + " --- |" * len(HEADER),
        ]
        lines += ["| " + " | ".join(r) + " |" for r in _table_rows(c)]
    return "\n".join(lines) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;
padding:.2em .6em;text-align:right}th{background:#f3f3f3}img{max-width:100%;display:block;
margin:1em 0}pre{background:#f6f6f6;padding:1em;overflow:auto}"""

# Marks the page once every figure has decoded (the test reads this from the rendered DOM).
CHECK = """<script>window.addEventListener('load',function(){var i=document.images,n=0;
for(var k=0;k<i.length;k++){if(i[k].complete&&i[k].naturalWidth>0)n++;}
document.body.setAttribute('data-images-loaded',n+'/'+i.length);});</script>"""


def to_html(run: RunDir, comps: list[Comparison], figures: list[Path]) -> str:
    cfg = run.config
    main = cfg.data.dataset
    meta = run.meta()
    st = run.status()
    inv = meta.get("invocations", [])
    out = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>ticketlab report: {html.escape(cfg.name)}</title><style>{CSS}</style>"
        f"</head><body><h1>ticketlab report: {html.escape(cfg.name)}</h1>",
        f"<p>Run <code>{html.escape(str(run.path))}</code>: {st['status']} "
        f"({st['trainings_done']}/{st['trainings_total']} trainings), seeds "
        f"{html.escape(str(cfg.seeds))}. Accuracy is test accuracy at the early-stopping "
        "iteration; differences are ticket minus control in percentage points (pp), paired "
        "by seed, with a 95% Student-t interval over seeds.</p>",
        "<h2>Verdicts</h2>",
        _html_table(
            ["dataset", "setting", "control", "verdict"],
            [[c.dataset, c.setting, c.control, c.verdict()] for c in _ordered(comps, main)],
        ),
        "<h2>Figures</h2>",
    ]
    for p in figures:
        data = base64.b64encode(p.read_bytes()).decode()
        out.append(f"<img alt='{html.escape(p.stem)}' src='data:image/png;base64,{data}'>")
    for c in _ordered(comps, main):
        out.append(
            f"<h2>{html.escape(c.dataset)} / {html.escape(c.setting)} / ticket vs "
            f"{html.escape(c.control)}</h2><p>{html.escape(c.verdict())}</p>"
        )
        out.append(_html_table(HEADER, _table_rows(c)))
    wall = [
        [i.get("started_at", ""), i.get("outcome", "running"), f"{i.get('wall_time_s', 0):.1f}"]
        for i in inv
    ]
    out += ["<h2>Wall time</h2>", _html_table(["started", "outcome", "seconds"], wall)]
    if inv:
        env = inv[-1].get("environment", {})
        out += [
            "<h2>Environment</h2>",
            _html_table(["", ""], [[k, str(v)] for k, v in env.items()]),
            "<h2>Datasets</h2>",
            f"<pre>{html.escape(json.dumps(inv[-1].get('datasets', {}), indent=2))}</pre>",
        ]
    out += ["<h2>Config</h2>", f"<pre>{html.escape(cfg.to_yaml())}</pre>", CHECK, "</body></html>"]
    return "\n".join(out)


def write_report(run: RunDir, figures: list[Path]) -> list[Path]:
    """Write ``report.html`` and ``report.md`` for an opened run (figures already drawn)."""
    comps = compare(run.summaries())
    pngs = [p for p in figures if p.suffix == ".png"]
    paths = [run.path / "report.html", run.path / "report.md"]
    atomic_write_text(paths[0], to_html(run, comps, pngs))
    atomic_write_text(paths[1], markdown(run, comps, pngs))
    return paths
