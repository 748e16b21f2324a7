"""The run report: does a ticket beat its control, dataset by dataset, with statistics.

For every dataset, optimiser setting and control, the ticket-minus-control difference in
test accuracy at early stopping is paired by seed (ticket and control of a seed share the
mask and the data order) at every pruning level (``stats.py``):

- per level: mean, 95% Student-t interval, p-value, the p-value adjusted over the
  comparison's levels (Holm by default, Benjamini-Hochberg as an option) and a Bonferroni
  interval that holds for all levels at once;
- pooled (the headline verdict): each seed's differences averaged over a range of levels
  (default: every pruned level, rounds 1 and up), then a one-sample t-test over seeds.

The same is reported for sign stability: the share of kept weights whose sign differs from
the start at the end of training, ticket minus control. Differences are in percentage
points (pp). With one seed there is no interval and no verdict, and a difference that is
not significant is reported as inconclusive, with its interval, never as "no difference".

``write_report`` writes ``report.html`` (self-contained: figures embedded as data URIs, no
network needed) and ``report.md`` into the run directory.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ticketlab.analysis.stats import ALPHA, CORRECTIONS, Test, adjust, paired_test, pooled_test
from ticketlab.config import display_setting
from ticketlab.data.datasets import display
from ticketlab.errors import TicketlabError
from ticketlab.store.files import atomic_write_text
from ticketlab.store.rundir import RunDir

CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
# Fewest seeds for a verdict, per level and pooled alike. With 2 seeds the standard
# deviation rests on one degree of freedom: the t test is then only as good as the
# assumption that the two differences are normal, which two values cannot check, and a
# pair that agrees by chance gives a tiny interval and a confident verdict. Intervals are
# still shown.
MIN_SEEDS = 3
METRICS = {
    "es_test_acc": "test accuracy at early stopping",
    "sign_flip_final": "share of kept weights whose sign flipped by the end of training",
}


@dataclass
class Options:
    """How verdicts are drawn; recorded in the report."""

    correction: str = "holm"
    pool_rounds: tuple[int, int] | None = None  # inclusive; None: every pruned level (>= 1)
    alpha: float = ALPHA

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise TicketlabError(
                f"correction {self.correction!r}: choose one of {', '.join(CORRECTIONS)}"
            )

    def describe(self) -> str:
        rounds = (
            "every pruned level (rounds 1 and up)"
            if self.pool_rounds is None
            else f"rounds {self.pool_rounds[0]}-{self.pool_rounds[1]}"
        )
        return (
            f"Per-level p-values are {CORRECTION_NAMES[self.correction]}-adjusted over each "
            f"comparison's levels (alpha {self.alpha:g}); simultaneous intervals are "
            f"Bonferroni over the same levels. The pooled test averages each seed's "
            f"differences over {rounds}, then tests the per-seed means (one-sample t over "
            "seeds)."
        )


@dataclass
class Row:
    round: int
    weights: float
    ticket: float
    control: float
    test: Test  # of the paired differences, ticket minus control
    p_adj: float | None = None
    simultaneous: tuple[float, float] | None = None

    @property
    def diff(self) -> float:
        return self.test.mean

    @property
    def ci(self) -> tuple[float, float] | None:
        return self.test.ci

    def sign(self, alpha: float) -> int:
        """+1 ticket significantly higher (after correction), -1 lower, 0 neither."""
        if self.p_adj is None or self.p_adj >= alpha or self.test.n < MIN_SEEDS:
            return 0
        return 1 if self.diff > 0 else -1


@dataclass
class Comparison:
    dataset: str
    setting: str
    control: str
    metric: str
    rows: list[Row]
    pooled: Test
    pooled_rounds: list[int]
    options: Options

    @property
    def n_seeds(self) -> int:
        return max((r.test.n for r in self.rows), default=0)

    def headline(self) -> str:
        """The pooled verdict, in pp, with its interval and the rounds pooled."""
        t = self.pooled
        if not self.pooled_rounds:
            return "no pooled verdict: no level in the pooled range"
        span = _span(self.pooled_rounds)
        if t.ci is None:
            return f"no verdict: {t.n} seed(s) give no interval ({_pp(t.mean)} pp over {span})"
        word = "higher" if self.metric == "es_test_acc" else "more"
        what = f"{_pp(t.mean)} pp over {span}, 95% CI [{_pp(t.ci[0])}, {_pp(t.ci[1])}]"
        if t.n < MIN_SEEDS:
            return f"no verdict with {t.n} seeds (needs {MIN_SEEDS}): {what}, {_p_is(t.p)}"
        if t.p is not None and t.p < self.options.alpha:
            verdict = f"ticket {word if t.mean > 0 else _opposite(word)}"
            return f"{verdict}: {what}, {_p_is(t.p)}, {t.n} seeds"
        return f"inconclusive with {t.n} seeds: {what}, {_p_is(t.p)}"

    def levels(self) -> str:
        """Which levels differ after the correction."""
        if self.n_seeds < MIN_SEEDS:
            return f"no per-level verdicts with fewer than {MIN_SEEDS} seeds"
        name = CORRECTION_NAMES[self.options.correction]
        parts = []
        word = "higher" if self.metric == "es_test_acc" else "more"
        for sign, w in ((1, word), (-1, _opposite(word))):
            hits = [r for r in self.rows if r.sign(self.options.alpha) == sign]
            if hits:
                parts.append(f"ticket {w} at {_levels(hits)} weights remaining")
        rest = sum(r.sign(self.options.alpha) == 0 for r in self.rows)
        if rest:
            parts.append(f"inconclusive at {'the other ' if parts else ''}{rest} level(s)")
        return f"{name}-adjusted over {len(self.rows)} levels: " + "; ".join(parts)

    def verdict(self) -> str:
        return f"{self.headline()}. {self.levels()}"


def _opposite(word: str) -> str:
    return {"higher": "lower", "more": "fewer"}[word]


def _span(rounds: list[int]) -> str:
    return f"rounds {rounds[0]}-{rounds[-1]}" if len(rounds) > 1 else f"round {rounds[0]}"


def _pp(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x * 100:+.2f}"


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def _p_is(p: float | None) -> str:
    text = _p(p)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def _levels(rows: list[Row]) -> str:
    return ", ".join(f"{r.weights * 100:.3g}%" for r in rows)


def compare(
    rows: list[dict[str, Any]], metric: str = "es_test_acc", options: Options | None = None
) -> list[Comparison]:
    """Paired ticket-vs-control comparisons of ``metric`` for every dataset, setting and
    control (records without the metric, e.g. from before it existed, are left out)."""
    options = options or Options()
    ticket: dict[tuple, dict[int, float]] = defaultdict(dict)
    control: dict[tuple, dict[int, float]] = defaultdict(dict)
    weights: dict[tuple, float] = {}
    for r in rows:
        if r.get(metric) is None:
            continue
        k = (r["dataset"], r["setting"], r["round"])
        if r["kind"] == "ticket":
            ticket[k][r["seed"]] = r[metric]
            weights[k] = r["weights_remaining"]
        else:
            control[(*k, r["control"])][r["seed"]] = r[metric]
    groups: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    diffs: dict[tuple[str, str, str], dict[int, dict[int, float]]] = defaultdict(dict)
    for (ds, setting, rnd, ctrl), by_seed in sorted(control.items()):
        t = ticket.get((ds, setting, rnd), {})
        seeds = sorted(set(t) & set(by_seed))
        if not seeds:
            continue
        d = {s: t[s] - by_seed[s] for s in seeds}
        diffs[(ds, setting, ctrl)][rnd] = d
        groups[(ds, setting, ctrl)].append(
            Row(
                rnd,
                weights[(ds, setting, rnd)],
                sum(t[s] for s in seeds) / len(seeds),
                sum(by_seed[s] for s in seeds) / len(seeds),
                paired_test(list(d.values()), options.alpha),
            )
        )
    out = []
    for key, rs in groups.items():
        rs.sort(key=lambda r: r.round)
        tested = [(row, row.test.p) for row in rs if row.test.p is not None]
        if tested:
            adjusted = adjust([p for _, p in tested], options.correction)
            for (row, _), p_adj in zip(tested, adjusted, strict=True):
                row.p_adj = p_adj
                row.simultaneous = row.test.interval(1 - options.alpha / len(tested))
        lo, hi = options.pool_rounds or (1, max(r.round for r in rs))
        pooled, used, _ = pooled_test(
            diffs[key], [r.round for r in rs if lo <= r.round <= hi], options.alpha
        )
        out.append(Comparison(*key, metric, rs, pooled, used, options))
    return out


def ticket_layers(rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], tuple[str, str]]:
    """Per (dataset, setting, round), the ticket's weights remaining per layer (%) and its
    units without inputs per layer (the most over seeds), for the layers that have any:
    where a layer has collapsed."""
    layers: dict[tuple[str, str, int], dict[str, float]] = {}
    cut: dict[tuple[str, str, int], dict[str, int]] = defaultdict(dict)
    for r in rows:
        if r["kind"] != "ticket":
            continue
        k = (r["dataset"], r["setting"], r["round"])
        layers[k] = r["weights_remaining_per_layer"]
        for name, n in (r.get("units_without_inputs") or {}).items():
            cut[k][name] = max(n, cut[k].get(name, 0))
    return {
        k: (
            " / ".join(f"{v * 100:.2f}" for v in per_layer.values()),
            ", ".join(f"{name} {n}" for name, n in cut[k].items() if n),
        )
        for k, per_layer in layers.items()
    }


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
                _pp(r.diff),
                _interval(r.ci),
                _interval(r.simultaneous),
                _p(r.test.p),
                _p(r.p_adj),
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
    flips = {
        (c.dataset, c.setting, c.control): c for c in compare(rows, "sign_flip_final", options)
    }
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
