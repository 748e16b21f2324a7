"""The report over one run or several: what the page says (the verdicts of ``verdicts.py``
in the page's two families, shares of gaps, sign flips, mask overlap, mask sources, the
per-level tables), as blocks that ``render.py`` writes as ``report.md`` and a
self-contained ``report.html``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from ticketlab.analysis.masks import OverlapRow
from ticketlab.analysis.render import Block, markdown, to_html
from ticketlab.analysis.verdicts import (
    Comparison,
    Options,
    at_equal_steps,
    compare,
    compare_arms,
    compare_runs,
    compare_settings,
    compare_sources,
    correct_levels,
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
    "ticket supermask %",
    "control supermask %",
    "ticket weights per layer %",
    "units without inputs (most over seeds)",
]


def _table_rows(
    c: Comparison,
    flips: Comparison | None,
    layers: dict[tuple[str, str, int], tuple[str, str]],
    supermask: Comparison | None = None,
) -> list[list[str]]:
    by_round = {r.round: r for r in flips.rows} if flips is not None else {}
    untrained = {r.round: r for r in supermask.rows} if supermask is not None else {}
    out = []
    for r in c.rows:
        f = by_round.get(r.round)
        u = untrained.get(r.round)
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
                _pct(u.ticket) if u else "n/a",
                _pct(u.control) if u else "n/a",
                per_layer,
                cut,
            ]
        )
    return out


def _ordered(comps: list[Comparison], main: str) -> list[Comparison]:
    return sorted(
        comps,
        key=lambda c: (c.dataset != main, c.dataset, c.setting, c.source or "", c.control),
    )


def _key(c: Comparison) -> tuple[str, str, str | None, str]:
    return (c.dataset, c.setting, c.source, c.control)


def _who(c: Comparison) -> str:
    """The control, with the mask source whose ticket it checks."""
    return f"{c.source}: {c.control}" if c.source else c.control


def _pooled_mean(c: Comparison, side: str) -> str:
    vals = [getattr(r, side) for r in c.rows if r.round in c.pooled_rounds]
    return _pct(sum(vals) / len(vals)) if vals else "n/a"


@dataclass
class _Part:
    """One run's comparisons on the page."""

    label: str  # the run's name on a page of several runs, "" on a page of one
    main: str
    rows: list[dict[str, Any]]  # the run's records and its branches', read once
    acc: list[Comparison]
    flips: dict[tuple[str, str, str | None, str], Comparison]  # at early stopping
    final: dict[tuple[str, str, str | None, str], Comparison]  # end of training (descriptive)
    supermask: dict[tuple[str, str, str | None, str], Comparison]  # untrained (descriptive)
    arms: list[Comparison]  # direct comparisons of two arms
    sources: list[Comparison]  # each mask source's ticket against IMP's
    source_layers: dict[str, dict[tuple[str, str, int], tuple[str, str]]]
    steps: list[Comparison]  # the ticket's flips, one setting against another
    at: dict[str, int]  # the step the settings are compared at, per dataset
    layers: dict[tuple[str, str, int], tuple[str, str]]


def _part(
    run: RunDir, label: str, options: Options, method: Options, arms: list[tuple[str, str]]
) -> _Part:
    """One run's comparisons; ``method``: the options of comparisons between methods."""
    rows = run.summaries()
    main = run.config.data.dataset
    by = lambda cs: {_key(c): c for c in cs}  # noqa: E731
    direct = [c for a, b in arms for c in compare_arms(rows, a, b, options=options)]
    settings: dict[str, list[str]] = {}
    for r in rows:
        settings.setdefault(r["dataset"], [])
        if r["setting"] not in settings[r["dataset"]]:
            settings[r["dataset"]].append(r["setting"])
    pairs = {(a, b) for ss in settings.values() for i, a in enumerate(ss) for b in ss[i + 1 :]}
    steps: list[Comparison] = []
    at: dict[str, int] = {}
    if pairs:
        stepped, at = at_equal_steps(rows, run.all_evals())
        for a, b in sorted(pairs):
            steps += compare_settings(stepped, b, a, "sign_flip_step", options=options)
    return _Part(
        label,
        main,
        rows,
        _ordered(compare(rows, "es_test_acc", options), main),
        by(compare(rows, "sign_flip_es", options)),
        by(compare(rows, "sign_flip_final", options)),
        by(compare(rows, "supermask_acc", options)),
        direct,
        compare_sources(rows, options=method),
        {
            src: ticket_layers(rows, src)
            for src in dict.fromkeys(r["source"] for r in rows if r.get("source"))
        },
        steps,
        at,
        ticket_layers(rows),
    )


def document(
    runs: list[RunDir],
    options: Options,
    arms: list[tuple[str, str]] | None = None,
    overlap_rows: list[OverlapRow] | None = None,
) -> list[Block]:
    """The page's content over one run or several, rendered by ``markdown`` and
    ``to_html``. Comparisons pair records within a run only; the page's pooled tests form
    one family and its per-level tests another."""
    many = len(runs) > 1
    method = dataclasses.replace(options, disconnected="keep")
    parts = [_part(run, run.path.name if many else "", options, method, arms or []) for run in runs]
    between = [
        c
        for p in parts[1:]
        for c in compare_runs(p.rows, parts[0].rows, (p.label, parts[0].label), options=method)
    ]
    pooled = [c for p in parts for c in [*p.acc, *p.flips.values(), *p.arms, *p.sources, *p.steps]]
    correct_pooled([*pooled, *between], options.correction)
    correct_levels(
        [*(c for p in parts for c in [*p.acc, *p.arms, *p.sources]), *between],
        options.correction,
    )
    lead = ["run"] if many else []

    def cells(p: _Part, c: Comparison) -> list[str]:
        return [p.label] if many else []

    intro = []
    for run, part in zip(runs, parts, strict=True):
        st = run.live_status()
        cfg = run.config
        branches = sorted({r["branch"] for r in part.rows if r["branch"]})
        intro.append(
            f"Run {run.path}: {st['status']} ({st['trainings_done']}/{st['trainings_total']} "
            f"trainings), seeds {', '.join(map(str, cfg.seeds))}"
            + (f", with {', '.join(branches)}" if branches else "")
            + "."
        )
    blocks: list[Block] = [
        (
            "p",
            " ".join(intro)
            + " Accuracy is test accuracy at the early-stopping iteration; sign flips are the "
            "share of kept weights whose sign at the early-stopping iteration (the weights the "
            "accuracy is of) differs from the sign they started with, the end of training "
            "beside it. Differences are ticket minus control in percentage points (pp), "
            "paired by seed"
            + (" within each run" if many else "")
            + ", with Student-t intervals over seeds. "
            + options.describe()
            + " An inconclusive verdict is not evidence of no difference: read its interval.",
        ),
        ("h2", "Verdicts: accuracy"),
        (
            "table",
            (
                [*lead, "dataset", "setting", "control", "pooled verdict", "per level"],
                [
                    [
                        *cells(p, c),
                        display(c.dataset),
                        display_setting(c.setting),
                        _who(c),
                        c.headline(),
                        c.levels(),
                    ]
                    for p in parts
                    for c in p.acc
                ],
            ),
        ),
    ]
    if any(p.arms for p in parts):
        blocks += [
            ("h2", "Direct comparisons of two arms"),
            (
                "table",
                (
                    [*lead, "dataset", "setting", "arms", "pooled verdict", "per level"],
                    [
                        [
                            *cells(p, c),
                            display(c.dataset),
                            display_setting(c.setting),
                            f"{c.first} minus {c.control}",
                            c.headline(),
                            c.levels(),
                        ]
                        for p in parts
                        for c in p.arms
                    ],
                ),
            ),
        ]
    if between:
        blocks += [
            ("h2", "Tickets of each run against the first run's"),
            (
                "p",
                "Each run's IMP ticket minus the first run's, paired by seed and round on "
                "every dataset and setting both trained (e.g. two pruning criteria, or two "
                "data orders, from the same initial weights). A comparison of methods: "
                "disconnected levels stay in the pool.",
            ),
            (
                "table",
                (
                    ["runs", "dataset", "setting", "pooled verdict", "per level"],
                    [
                        [
                            f"{c.first} minus {c.control}",
                            display(c.dataset),
                            display_setting(c.setting),
                            c.headline(),
                            c.levels(),
                        ]
                        for c in between
                    ],
                ),
            ),
        ]
    if any(p.sources for p in parts):
        blocks += [
            ("h2", "Mask sources against IMP"),
            (
                "p",
                "Each mask source's ticket minus IMP's at the same level (the same per-layer "
                "counts, or their total for a global scope), paired by seed. A comparison of "
                "methods: disconnected levels stay in the pool, a collapsed layer being the "
                "method's own result. The sources' sanity checks are in the accuracy table "
                "above (source: check).",
            ),
            (
                "table",
                (
                    [*lead, "source", "dataset", "setting", "pooled verdict", "per level"],
                    [
                        [
                            *cells(p, c),
                            c.first,
                            display(c.dataset),
                            display_setting(c.setting),
                            c.headline(),
                            c.levels(),
                        ]
                        for p in parts
                        for c in p.sources
                    ],
                ),
            ),
            (
                "p",
                "Weights remaining per tensor of each source's ticket (mean over seeds) and "
                "the units left without inputs (most over seeds): where a source collapses a "
                "layer.",
            ),
            (
                "table",
                (
                    [*lead, "source", "round", "weights per layer %", "units without inputs"],
                    [
                        [*([p.label] if many else []), src, str(rnd), per_layer, cut]
                        for p in parts
                        for src in dict.fromkeys(c.first for c in p.sources)
                        for (_, _, rnd), (per_layer, cut) in sorted(
                            p.source_layers.get(src, {}).items(), key=lambda kv: kv[0][2]
                        )
                    ],
                ),
            ),
        ]
    for p in parts:
        blocks += _search_blocks(p.rows, p.main, f"{p.label}: " if many else "")
    shares = [(p, g) for p in parts for g in gap_shares(p.acc)]
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
                    [*lead, "dataset", "setting", "control", "levels pooled", "share closed"],
                    [
                        [
                            *([p.label] if many else []),
                            display(g.dataset),
                            display_setting(g.setting),
                            g.control,
                            span_text(g.rounds),
                            g.describe(),
                        ]
                        for p, g in shares
                    ],
                ),
            ),
        ]
    blocks += [
        ("h2", "Sign stability: share of kept weights that flipped sign"),
        (
            "table",
            (
                [
                    *lead,
                    "dataset",
                    "setting",
                    "control",
                    "ticket %",
                    "control %",
                    "ticket minus control, at early stopping",
                    "at the end of training (pp)",
                ],
                [
                    [
                        *cells(p, c),
                        display(c.dataset),
                        display_setting(c.setting),
                        _who(c),
                        _pooled_mean(c, "ticket"),
                        _pooled_mean(c, "control"),
                        c.headline(),
                        _descriptive(p.final.get(_key(c))),
                    ]
                    for p in parts
                    for c in _ordered(list(p.flips.values()), p.main)
                ],
            ),
        ),
        ("p", "Flip shares are means over seeds and the pooled levels, at early stopping."),
    ]
    if any(p.steps for p in parts):
        blocks += [
            ("h2", "The ticket's sign flips at equal steps across settings"),
            (
                "p",
                "Settings of different lengths compared at one step per dataset: the latest "
                "step every training of the dataset evaluated (weights at that step, not at "
                "early stopping). First setting minus second, paired by seed and level.",
            ),
            (
                "table",
                (
                    [*lead, "dataset", "step", "settings", "pooled verdict"],
                    [
                        [
                            *cells(p, c),
                            display(c.dataset),
                            f"{p.at[c.dataset]:,}",
                            f"{display_setting(c.first)} minus {display_setting(c.control)}",
                            c.headline(),
                        ]
                        for p in parts
                        for c in p.steps
                    ],
                ),
            ),
        ]
    if overlap_rows:
        blocks += _overlap_blocks(overlap_rows)
    blocks += [("h2", "Figures"), ("figures", None)]
    for p in parts:
        for c in p.acc:
            where = f"{p.label}: " if many else ""
            blocks += [
                (
                    "h2",
                    f"{where}{display(c.dataset)} / {display_setting(c.setting)} / "
                    + (
                        f"{c.source} ticket vs {c.control}"
                        if c.source
                        else f"ticket vs {c.control}"
                    ),
                ),
                ("p", c.verdict()),
                (
                    "table",
                    (
                        HEADER,
                        _table_rows(c, p.flips.get(_key(c)), p.layers, p.supermask.get(_key(c))),
                    ),
                ),
            ]
    return blocks


def _search_blocks(rows: list[dict[str, Any]], main: str, where: str) -> list[Block]:
    """What the searched sources' searches cost per level: the one that made the mask (its
    epochs, steps against a full round's, examples), the steps up to the level against
    IMP's, and a learned mask's frozen accuracy; means over seeds. From the run's own
    tickets on its ``main`` dataset, where the searches ran (a branch's or a transfer's
    ticket carries the search's cost but trains another schedule, and has no frozen
    accuracy)."""
    mine = [
        r
        for r in rows
        if r["kind"] == "ticket"
        and r.get("search_steps") is not None
        and r["dataset"] == main
        and not r.get("branch")
    ]
    if not mine:
        return []
    table = []
    for (src, rnd), group in groupby(
        sorted(mine, key=lambda r: (r["source"], r["round"])),
        key=lambda r: (r["source"], r["round"]),
    ):
        g = list(group)

        def mean(field: str, g: list[dict[str, Any]] = g) -> float:
            return sum(r[field] for r in g) / len(g)

        full = mean("steps")
        table.append(
            [
                src,
                str(rnd),
                f"{mean('search_epochs'):.3g}",
                f"{mean('search_steps'):,.0f} of {full:,.0f}",
                _pct(1 - mean("search_steps") / full),
                f"{mean('search_examples'):,.0f}",
                ""
                if any(r.get("search_distance") is None for r in g)
                else f"{mean('search_distance'):.3f}",
                f"{mean('mask_steps'):,.0f} of {rnd * full:,.0f}",
                _pct(1 - mean("mask_steps") / (rnd * full)),
                f"{mean('mask_seconds'):.3g}",
                "" if g[0].get("frozen_test_acc") is None else _pct(mean("frozen_test_acc")),
            ]
        )
    return [
        ("h2", f"{where}Steps spent finding the masks"),
        (
            "p",
            "Each IMP source's search that made the level's mask (the round before it): "
            "epochs trained, steps against a full round, training examples, and for "
            "early-bird the largest mask distance d of its last window of epochs (the rule "
            "draws the ticket once it is below eps; a search that ran its whole round "
            "ended at or above it); then every "
            "search of the chain up to the level against IMP's full rounds, and its wall "
            "time. Means over seeds. The masks themselves are evaluated with full trainings "
            "(above), which this cost leaves out. A learned mask's search is its score "
            "training, one per level (not summed), and its frozen accuracy the test accuracy of "
            "the mask on the frozen weights it was learned on (biprop: their signs times a "
            "gain), without weight training.",
        ),
        (
            "table",
            (
                [
                    "source",
                    "level",
                    "epochs",
                    "steps",
                    "saved",
                    "examples",
                    "early-bird d",
                    "steps to this level",
                    "saved",
                    "seconds",
                    "frozen accuracy",
                ],
                table,
            ),
        ),
    ]


def _overlap_blocks(rows: list[OverlapRow]) -> list[Block]:
    """Overall mask overlap per comparison and round: the mean Jaccard similarity over the
    pairs of masks, its range, and the chance level of independent masks."""
    table = []
    for what in dict.fromkeys(r.what for r in rows):
        for rnd in sorted({r.round for r in rows if r.what == what}):
            cell = [r for r in rows if r.what == what and r.round == rnd and r.tensor == "all"]
            js = [r.jaccard for r in cell]
            table.append(
                [
                    what,
                    str(rnd),
                    f"{cell[0].weights_remaining * 100:.3g}%",
                    f"{sum(js) / len(js):.3f}",
                    f"[{min(js):.3f}, {max(js):.3f}]",
                    f"{sum(r.chance for r in cell) / len(cell):.3f}",
                    str(len(cell)),
                ]
            )
    return [
        ("h2", "Mask overlap"),
        (
            "p",
            "Jaccard similarity of two ticket masks (kept in both over kept in either, counts "
            "summed over tensors) beside the chance level of independent masks of the same "
            "per-tensor densities. Between runs: the same seed's masks (same initial "
            "weights); between seeds: every pair of one run's seeds; large_init: each "
            "ticket against the mask that keeps as many of its initial weights per tensor, "
            "those of largest magnitude (no data). Per tensor: the mask-overlap figures.",
        ),
        (
            "table",
            (
                ["comparison", "round", "weights", "Jaccard", "range", "chance", "pairs"],
                table,
            ),
        ),
    ]


def _descriptive(c: Comparison | None) -> str:
    """A pooled difference with its interval, without a verdict (not in the family)."""
    if c is None or c.pooled.ci is None:
        return "n/a"
    return f"{format_pp(c.pooled.mean)} {_interval(c.pooled.ci)}"


def write_report(
    runs: list[RunDir],
    figures: list[Path],
    options: Options | None = None,
    arms: list[tuple[str, str]] | None = None,
    out: Path | None = None,
    overlap_rows: list[OverlapRow] | None = None,
) -> list[Path]:
    """Write ``report.html`` and ``report.md`` over opened runs (figures already drawn)
    into ``out`` (default: the run's directory; a page of several runs needs one), with
    the mask overlaps of ``overlap_rows`` (``analysis.masks.overlaps``)."""
    if out is None:
        if len(runs) > 1:
            raise ValueError("a report over several runs needs a folder to write to")
        out = runs[0].path
    blocks = document(runs, options or Options(), arms, overlap_rows)
    pngs = [p for p in figures if p.suffix == ".png"]
    paths = [out / "report.html", out / "report.md"]
    atomic_write_text(paths[0], to_html(runs, blocks, pngs))
    atomic_write_text(paths[1], markdown(runs, blocks, pngs, out))
    return paths
