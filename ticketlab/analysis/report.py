"""The run report: the verdicts (``verdicts.py``) with the config, environment, wall times
and figures, as ``report.html`` (self-contained: figures embedded as data URIs, no network
needed) and ``report.md`` in the run directory."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

from ticketlab.analysis.verdicts import (
    Comparison,
    Options,
    compare,
    correct_pooled,
    format_p,
    format_pp,
    gap_shares,
    span_text,
    ticket_layers,
)
from ticketlab.config import display_setting
from ticketlab.data.datasets import display
from ticketlab.store.files import atomic_write_text
from ticketlab.store.rundir import RunDir


def _pct(x: float) -> str:
    return f"{x * 100:.2f}"


def _interval(ci: tuple[float, float] | None) -> str:
    return "n/a" if ci is None else f"[{ci[0] * 100:+.2f}, {ci[1] * 100:+.2f}]"


HEADER = [
    "round",
    "weights",
    "ticket %",
    "control %",
    "diff (pp)",
    "95% CI (pp)",
    "simultaneous 95% CI (pp)",
    "p",
    "p adjusted",
    "verdict",
    "ticket flips %",
    "control flips %",
    "ticket weights per layer %",
    "units without inputs (most over seeds)",
]


def _table_rows(
    c: Comparison, flips: Comparison | None, layers: dict[tuple[str, str, int], tuple[str, str]]
) -> list[list[str]]:
    by_round = {r.round: r for r in flips.rows} if flips is not None else {}
    out = []
    for r in c.rows:
        f = by_round.get(r.round)
        per_layer, cut = layers.get((c.dataset, c.setting, r.round), ("n/a", ""))
        word = {1: "higher", -1: "lower", 0: ""}[r.sign(c.options.alpha)]
        out.append(
            [
                str(r.round),
                f"{r.weights * 100:.2f}%",
                _pct(r.ticket),
                _pct(r.control),
                format_pp(r.diff),
                _interval(r.ci),
                _interval(r.simultaneous),
                format_p(r.test.p),
                format_p(r.p_adj),
                word,
                _pct(f.ticket) if f else "n/a",
                _pct(f.control) if f else "n/a",
                per_layer,
                cut,
            ]
        )
    return out


def _ordered(comps: list[Comparison], main: str) -> list[Comparison]:
    return sorted(comps, key=lambda c: (c.dataset != main, c.dataset, c.setting, c.control))


def _pooled_mean(c: Comparison, side: str) -> str:
    vals = [getattr(r, side) for r in c.rows if r.round in c.pooled_rounds]
    return _pct(sum(vals) / len(vals)) if vals else "n/a"


Block = tuple[str, Any]  # ("h2" | "p", text), ("table", (header, rows)), ("figures", None)


def document(run: RunDir, options: Options) -> list[Block]:
    """The report's content, rendered by ``markdown`` and ``to_html``."""
    rows = run.summaries()
    cfg = run.config
    main = cfg.data.dataset
    acc = _ordered(compare(rows, "es_test_acc", options), main)
    flip_list = compare(rows, "sign_flip_final", options)
    correct_pooled([*acc, *flip_list], options.correction)  # one family: every pooled test
    flips = {(c.dataset, c.setting, c.control): c for c in flip_list}
    layers = ticket_layers(rows)
    st = run.live_status()
    branches = sorted({r["branch"] for r in rows if r["branch"]})
    blocks: list[Block] = [
        (
            "p",
            f"Run {run.path}: {st['status']} ({st['trainings_done']}/{st['trainings_total']} "
            f"trainings), seeds {', '.join(map(str, cfg.seeds))}"
            + (f", with {', '.join(branches)}" if branches else "")
            + ". Accuracy is test accuracy at the early-stopping iteration; sign flips are the "
            "share of kept weights whose sign at the end of training differs from the sign "
            "they started with. Differences are ticket minus control in percentage points "
            "(pp), paired by seed, with Student-t intervals over seeds. "
            + options.describe()
            + " An inconclusive verdict is not evidence of no difference: read its interval.",
        ),
        ("h2", "Verdicts: accuracy"),
        (
            "table",
            (
                ["dataset", "setting", "control", "pooled verdict", "per level"],
                [
                    [
                        display(c.dataset),
                        display_setting(c.setting),
                        c.control,
                        c.headline(),
                        c.levels(),
                    ]
                    for c in acc
                ],
            ),
        ),
    ]
    shares = gap_shares(acc)
    if shares:
        blocks += [
            ("h2", "Shares of the ticket's lead over the re-init that each control closes"),
            (
                "p",
                "mean(control - reinit) / mean(ticket - reinit) over seeds, each seed "
                "averaged over the pooled levels, with Fieller's 95% interval for a ratio of "
                "paired means; unbounded where the ticket's lead itself is not resolved away "
                "from zero. A share of 100% means the control matches the ticket.",
            ),
            (
                "table",
                (
                    ["dataset", "setting", "control", "levels pooled", "share of the gap closed"],
                    [
                        [
                            display(g.dataset),
                            display_setting(g.setting),
                            g.control,
                            span_text(g.rounds),
                            g.describe(),
                        ]
                        for g in shares
                    ],
                ),
            ),
        ]
    blocks += [
        ("h2", "Sign stability: share of kept weights that flipped sign"),
        (
            "table",
            (
                ["dataset", "setting", "control", "ticket %", "control %", "ticket minus control"],
                [
                    [
                        display(c.dataset),
                        display_setting(c.setting),
                        c.control,
                        _pooled_mean(c, "ticket"),
                        _pooled_mean(c, "control"),
                        c.headline(),
                    ]
                    for c in _ordered(list(flips.values()), main)
                ],
            ),
        ),
        ("p", "Flip shares are means over seeds and the pooled levels."),
        ("h2", "Figures"),
        ("figures", None),
    ]
    for c in acc:
        blocks += [
            ("h2", f"{display(c.dataset)} / {display_setting(c.setting)} / ticket vs {c.control}"),
            ("p", c.verdict()),
            (
                "table",
                (HEADER, _table_rows(c, flips.get((c.dataset, c.setting, c.control)), layers)),
            ),
        ]
    return blocks


def markdown(run: RunDir, blocks: list[Block], figures: list[Path]) -> str:
    lines = [f"# ticketlab report: {run.config.name}", ""]
    for kind, content in blocks:
        if kind == "h2":
            lines += [f"## {content}", ""]
        elif kind == "p":
            lines += [content, ""]
        elif kind == "figures":
            lines += [f"![{p.stem}](figures/{p.name})" for p in figures] + [""]
        else:
            header, rows = content
            lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
            lines += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    return "\n".join(lines)


# A cell of numbers (values, intervals, p-values, "n/a"): right-aligned; any other text left.
NUMERIC = re.compile(r"[-+\d.,%\[\] <e/]*|n/a")


def _cell(c: str, numbers: bool) -> str:
    """Numbers right-aligned (an interval kept on one line), text left-aligned."""
    if not numbers or NUMERIC.fullmatch(c) is None:
        return f"<td class='t'>{html.escape(c)}</td>"
    return f"<td>{html.escape(c)}</td>" if " / " in c else f"<td class='n'>{html.escape(c)}</td>"


def _html_table(header: list[str], rows: list[list[str]], numbers: bool = True) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c, numbers) for c in r) + "</tr>" for r in rows)
    return (
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        "</table></div>"
    )


CSS = """body{font-family:system-ui,sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right;vertical-align:top}
td.t{text-align:left}td.n{white-space:nowrap}th{background:#f3f3f3;text-align:center}.scroll{overflow-x:auto}
img{max-width:100%;display:block;margin:1em 0}pre{background:#f6f6f6;padding:1em;
overflow:auto}"""

# Marks the page once every figure has decoded (the test reads this from the rendered DOM).
CHECK = """<script>window.addEventListener('load',function(){var i=document.images,n=0;
for(var k=0;k<i.length;k++){if(i[k].complete&&i[k].naturalWidth>0)n++;}
document.body.setAttribute('data-images-loaded',n+'/'+i.length);});</script>"""


def to_html(run: RunDir, blocks: list[Block], figures: list[Path]) -> str:
    cfg = run.config
    inv = run.meta().get("invocations", [])
    name = html.escape(cfg.name)
    out = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>ticketlab report: {name}</title><style>{CSS}</style>"
        f"</head><body><h1>ticketlab report: {name}</h1>",
    ]
    for kind, content in blocks:
        if kind == "h2":
            out.append(f"<h2>{html.escape(content)}</h2>")
        elif kind == "p":
            out.append(f"<p>{html.escape(content)}</p>")
        elif kind == "figures":
            for p in figures:
                data = base64.b64encode(p.read_bytes()).decode()
                out.append(f"<img alt='{html.escape(p.stem)}' src='data:image/png;base64,{data}'>")
        else:
            out.append(_html_table(*content))
    wall = [
        [i.get("started_at", ""), i.get("outcome", "running"), f"{i.get('wall_time_s', 0):.1f}"]
        for i in inv
    ]
    out += ["<h2>Wall time</h2>", _html_table(["started", "outcome", "seconds"], wall)]
    if inv:
        env = inv[-1].get("environment", {})
        out += [
            "<h2>Environment</h2>",
            _html_table(["what", "value"], [[k, str(v)] for k, v in env.items()], numbers=False),
            "<h2>Datasets</h2>",
            _html_table(
                ["dataset", "train", "validation", "test", "classes", "pixel mean", "pixel std"],
                [
                    [
                        name,
                        f"{d['train']:,}",
                        f"{d['val']:,}",
                        f"{d['test']:,}",
                        str(d["classes"]),
                        f"{d['mean']:.4f}",
                        f"{d['std']:.4f}",
                    ]
                    for name, d in inv[-1].get("datasets", {}).items()
                ],
            ),
        ]
    out += ["<h2>Config</h2>", f"<pre>{html.escape(cfg.to_yaml())}</pre>", CHECK, "</body></html>"]
    return "\n".join(out)


def write_report(run: RunDir, figures: list[Path], options: Options | None = None) -> list[Path]:
    """Write ``report.html`` and ``report.md`` for an opened run (figures already drawn)."""
    blocks = document(run, options or Options())
    pngs = [p for p in figures if p.suffix == ".png"]
    paths = [run.path / "report.html", run.path / "report.md"]
    atomic_write_text(paths[0], to_html(run, blocks, pngs))
    atomic_write_text(paths[1], markdown(run, blocks, pngs))
    return paths
