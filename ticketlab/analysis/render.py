"""How a report is written: Markdown, and self-contained HTML (figures embedded as data
URIs, no network needed), from the blocks ``report.document`` makes."""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path
from typing import Any

from ticketlab.store.rundir import RunDir

Block = tuple[str, Any]  # ("h2" | "p", text), ("table", (header, rows)), ("figures", None)


def _title(runs: list[RunDir]) -> str:
    return "ticketlab report: " + " + ".join(run.config.name for run in runs)


def markdown(runs: list[RunDir], blocks: list[Block], figures: list[Path], out: Path) -> str:
    lines = [f"# {_title(runs)}", ""]
    for kind, content in blocks:
        if kind == "h2":
            lines += [f"## {content}", ""]
        elif kind == "p":
            lines += [content, ""]
        elif kind == "figures":
            lines += [f"![{p.stem}]({os.path.relpath(p, out)})" for p in figures] + [""]
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


def to_html(runs: list[RunDir], blocks: list[Block], figures: list[Path]) -> str:
    name = html.escape(_title(runs))
    out = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{name}</title><style>{CSS}</style></head><body><h1>{name}</h1>",
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
    for run in runs:
        out += _run_details(run, len(runs) > 1)
    out += [CHECK, "</body></html>"]
    return "\n".join(out)


def _run_details(run: RunDir, named: bool) -> list[str]:
    """Wall times, environment, datasets and config of one run."""
    cfg = run.config
    inv = run.meta().get("invocations", [])
    of = f" of {html.escape(run.path.name)}" if named else ""
    wall = [
        [i.get("started_at", ""), i.get("outcome", "running"), f"{i.get('wall_time_s', 0):.1f}"]
        for i in inv
    ]
    out = [f"<h2>Wall time{of}</h2>", _html_table(["started", "outcome", "seconds"], wall)]
    if inv:
        env = inv[-1].get("environment", {})
        out += [
            f"<h2>Environment{of}</h2>",
            _html_table(["what", "value"], [[k, str(v)] for k, v in env.items()], numbers=False),
            f"<h2>Datasets{of}</h2>",
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
    return [*out, f"<h2>Config{of}</h2>", f"<pre>{html.escape(cfg.to_yaml())}</pre>"]
