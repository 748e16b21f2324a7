"""Figures from a run's per-training summaries (matplotlib, PNG and SVG).

Every panel plots test accuracy at the early-stopping iteration against the fraction of
weights remaining, log axis decreasing to the right; winning tickets in green, random
re-initialisation in orange, random masks in blue; line = mean over seeds, band = min to max
over seeds.

- Figure 1: the main dataset, with a second panel showing the early-stopping iteration.
- Figure 2: one figure per optimiser setting, one panel per transfer dataset
  (``figure2-<setting>``), and one grid of every dataset by every setting
  (``figure2-grid``).
- Sign flips (``sign-flips``): the share of kept weights whose sign at the end of training
  differs from the start, ticket and controls, in a grid of every dataset by every setting.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from ticketlab.analysis.width import Cell
from ticketlab.config import display_setting
from ticketlab.data.datasets import display
from ticketlab.models.registry import display_model
from ticketlab.store.files import atomic_write

STYLE = {
    "ticket": ("winning ticket", "#2ca02c"),
    "reinit": ("random re-init", "#ff7f0e"),
    "random_mask": ("random mask", "#1f77b4"),
    "signed_reinit": ("re-init, signs kept", "#9467bd"),
    "signed_constant": ("constant, signs kept", "#8c564b"),
    "reshuffle": ("reshuffled init", "#e377c2"),
    "signed_reshuffle": ("reshuffled magnitudes, signs kept", "#17becf"),
    "scaled_reinit": ("re-init at the ticket's scale", "#bcbd22"),
}


MAX_TICKS = 12


def seeds_text(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def band(n_seeds: int) -> str:
    return "; band: min-max over seeds" if n_seeds > 1 else ""


def curve_of(row: dict[str, Any]) -> str:
    return row["control"] or "ticket"


def aggregate(rows: Iterable[dict[str, Any]], field: str) -> dict[str, np.ndarray]:
    """Per curve (ticket / control), per round: weights remaining, mean, min, max, n."""
    by: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by[curve_of(r)][r["round"]].append(r)
    out = {}
    for curve, rounds in by.items():
        table = []
        for rnd in sorted(rounds):
            vals = np.array([x[field] for x in rounds[rnd]], dtype=float)
            w = float(np.mean([x["weights_remaining"] for x in rounds[rnd]]))
            table.append((rnd, w, vals.mean(), vals.min(), vals.max(), len(vals)))
        out[curve] = np.array(table)
    return out


def _panel(
    ax: Any,
    rows: list[dict[str, Any]],
    field: str = "es_test_acc",
    scale: float = 100,
    ylabel: str = "test accuracy at early stopping (%)",
) -> None:
    curves = sorted(aggregate(rows, field).items(), key=lambda kv: kv[0] != "ticket")
    for i, (curve, t) in enumerate(curves):
        label, color = STYLE.get(curve, (curve, "gray"))
        x = t[:, 1] * 100
        # Controls dashed, with their own markers, so equal curves do not hide each other.
        style = "-o" if curve == "ticket" else ("--" + "sD^v<>p"[i % 7])
        ax.plot(x, t[:, 2] * scale, style, ms=3, color=color, label=label)
        if t[:, 5].max() > 1:
            ax.fill_between(x, t[:, 3] * scale, t[:, 4] * scale, color=color, alpha=0.2, lw=0)
    level_axis(ax, [r["weights_remaining"] * 100 for r in rows])
    ax.set_ylabel(ylabel)
    if field == "es_step":  # from zero: a few steps apart must not look like a gulf
        ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)


def level_axis(ax: Any, levels: list[float]) -> None:
    """A log axis of weights remaining (%), sparsest on the right, labelled at the levels
    trained: every one up to ``MAX_TICKS`` levels, else every k-th at a regular stride (the
    densest and the sparsest always), not at decades."""
    ax.set_xscale("log")
    ax.invert_xaxis()
    levels = sorted({round(v, 6) for v in levels}, reverse=True)
    stride = -(-len(levels) // MAX_TICKS)
    ticks = levels[::stride]
    if ticks[-1] != levels[-1]:
        ticks.append(levels[-1])
    ax.set_xticks(ticks, labels=[f"{v:.0f}" if v >= 10 else f"{v:.2g}" for v in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("weights remaining (%)")


def accuracy_figure(rows: list[dict[str, Any]], title: str, out: Path) -> list[Path]:
    """Two panels (accuracy, early-stopping iteration) for one dataset and setting;
    writes ``out.png`` and ``out.svg``."""
    seeds = sorted({r["seed"] for r in rows})
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    _panel(a1, rows, "es_test_acc", 100, "test accuracy at early stopping (%)")
    _panel(a2, rows, "es_step", 1, "early-stopping iteration")
    a1.legend(loc="lower left")
    fig.suptitle(f"{title} — mean of {seeds_text(len(seeds))}{band(len(seeds))}")
    fig.tight_layout()
    return _save(fig, out)


def _save(fig: Any, out: Path) -> list[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.parent / f"{out.name}.png", out.parent / f"{out.name}.svg"]
    # Written like every run file (temporary name, fsync, rename): never half a figure.
    atomic_write(paths[0], lambda tmp: fig.savefig(tmp, dpi=150, format="png"))
    atomic_write(paths[1], lambda tmp: fig.savefig(tmp, metadata={"Date": None}, format="svg"))
    plt.close(fig)
    return paths


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def figure1(
    rows: list[dict[str, Any]],
    dataset: str,
    setting: str,
    out_dir: Path,
    model: str = "lenet_300_100",
) -> list[Path]:
    """The IMP trunk: tickets and controls on the main ``dataset`` under its own ``setting``."""
    mine = [r for r in rows if r["dataset"] == dataset and r["setting"] == setting]
    if not mine:
        return []
    setting = display_setting(mine[0]["setting"])
    title = f"Figure 1: {display_model(model)} on {display(dataset)} ({setting})"
    return accuracy_figure(mine, title, out_dir / "figure1")


def _grid(
    rows: list[dict[str, Any]],
    datasets: list[str],
    field: str,
    scale: float,
    ylabel: str,
    title: str,
    out: Path,
) -> list[Path]:
    """One panel per dataset (row) and setting (column); with a single setting the datasets
    wrap into two columns, so that each panel keeps a readable width on a report page."""
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    panels = [(ds, setting) for ds in datasets for setting in settings]
    ncols = len(settings) if len(settings) > 1 else min(2, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.6 * ncols, 4.0 * nrows), squeeze=False)
    for ax, (ds, setting) in zip(axes.flat, panels, strict=False):
        mine = [r for r in rows if r["dataset"] == ds and r["setting"] == setting]
        if mine:
            _panel(ax, mine, field, scale, ylabel)
        else:
            ax.set_axis_off()
        ax.set_title(f"{display(ds)}\n{display_setting(setting)}", fontsize=10)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out)


def sign_flip_figure(rows: list[dict[str, Any]], main: str, out_dir: Path) -> list[Path]:
    """Share of kept weights that flipped sign by the early-stopping step (the weights the
    accuracy is of), every dataset and setting (records from before sign flips were
    measured are left out)."""
    mine = [r for r in rows if r.get("sign_flip_es") is not None]
    if not mine:
        return []
    datasets = list(dict.fromkeys([main, *(r["dataset"] for r in mine)]))
    seeds = len({r["seed"] for r in mine})
    return _grid(
        mine,
        [d for d in datasets if any(r["dataset"] == d for r in mine)],
        "sign_flip_es",
        100,
        "kept weights with flipped sign (%)",
        f"Sign flips by the early-stopping step; mean of {seeds_text(seeds)}{band(seeds)}",
        out_dir / "sign-flips",
    )


def figure2(rows: list[dict[str, Any]], main: str, trunk: str, out_dir: Path) -> list[Path]:
    """Transfer figures: one per setting (a panel per transfer dataset, the main dataset
    among them under a setting other than the trunk's ``trunk``) and the grid."""
    transfer = [r for r in rows if (r["dataset"], r["setting"]) != (main, trunk)]
    if not transfer:
        return []
    datasets = list(dict.fromkeys(r["dataset"] for r in transfer))
    settings = list(dict.fromkeys(r["setting"] for r in transfer))
    seeds = len({r["seed"] for r in rows})
    paths = []
    for setting in settings:
        # The datasets trained under this setting (the main dataset may be retrained under
        # one setting and not another).
        here = [
            d
            for d in datasets
            if any(r["dataset"] == d for r in transfer if r["setting"] == setting)
        ]
        fig, axes = plt.subplots(
            1, len(here), figsize=(max(4.6 * len(here), 7.0), 4.6), squeeze=False
        )
        for ax, ds in zip(axes[0], here, strict=True):
            _panel(ax, [r for r in transfer if r["dataset"] == ds and r["setting"] == setting])
            ax.set_title(display(ds))
        axes[0][0].legend(loc="lower left")
        fig.suptitle(
            f"Figure 2: {display(main)} tickets retrained ({display_setting(setting)})\n"
            f"mean of {seeds_text(seeds)}{band(seeds)}"
        )
        fig.tight_layout()
        paths += _save(fig, out_dir / f"figure2-{slug(setting)}")
    return paths + _grid(
        rows,
        [main, *(d for d in datasets if d != main)],
        "es_test_acc",
        100,
        "test accuracy at early stopping (%)",
        f"All datasets and settings; mean of {seeds_text(seeds)}{band(seeds)}",
        out_dir / "figure2-grid",
    )


def keep_map_figure(maps: dict[int, tuple[float, Any]], title: str, out: Path) -> list[Path]:
    """The first layer's keep map per round (at most 8 rounds, evenly spaced, the last
    included): each input pixel's share of kept outgoing weights over the layer's share
    (1: as often as a pixel picked at random; 0: none kept), on one colour scale."""
    if not maps:
        return []
    rounds = sorted(maps)
    if len(rounds) > 8:
        step = math.ceil(len(rounds) / 8)
        rounds = sorted({*rounds[::-1][::step]})
    fig, axes = plt.subplots(1, len(rounds), figsize=(2.0 * len(rounds) + 1.4, 2.9), squeeze=False)
    image = None
    for ax, rnd in zip(axes[0], rounds, strict=True):
        kept, m = maps[rnd]
        image = ax.imshow(np.asarray(m) / kept, cmap="viridis", vmin=0.0, vmax=2.0)
        ax.set_title(f"round {rnd}\n{kept * 100:.3g}% kept", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    assert image is not None
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="kept share / layer's share")
    fig.suptitle(title, fontsize=10)
    return _save(fig, out)


def overlap_figure(rows: list[Any], title: str, out: Path) -> list[Path]:
    """Heat maps of mask overlap, one panel per comparison: rounds down, tensors across
    (``all``: counts summed over tensors), each cell the mean Jaccard similarity over the
    pairs of masks, annotated with the chance level of independent masks of the same
    densities in brackets."""
    if not rows:
        return []
    whats = list(dict.fromkeys(r.what for r in rows))
    fig, axes = plt.subplots(
        1, len(whats), figsize=(3.6 * len(whats) + 1.0, 0.32 * 21 + 1.8), squeeze=False
    )
    image = None
    for ax, what in zip(axes[0], whats, strict=True):
        mine = [r for r in rows if r.what == what]
        tensors = list(dict.fromkeys(r.tensor for r in mine))
        rounds = sorted({r.round for r in mine})
        grid = np.full((len(rounds), len(tensors)), np.nan)
        chance = np.full_like(grid, np.nan)
        for i, rnd in enumerate(rounds):
            for j, t in enumerate(tensors):
                cell = [r for r in mine if r.round == rnd and r.tensor == t]
                if cell:
                    grid[i, j] = np.mean([r.jaccard for r in cell])
                    chance[i, j] = np.mean([r.chance for r in cell])
        image = ax.imshow(grid, cmap="magma", vmin=0.0, vmax=1.0, aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            if not np.isnan(v):
                colour = "black" if v > 0.6 else "white"
                text = f"{v:.2f} ({chance[i, j]:.2f})"
                ax.text(j, i, text, ha="center", va="center", fontsize=6, color=colour)
        ax.set_xticks(range(len(tensors)), tensors, rotation=30, ha="right", fontsize=7)
        ax.set_yticks(range(len(rounds)), [str(r) for r in rounds], fontsize=7)
        ax.set_ylabel("round")
        ax.set_title(what, fontsize=9)
    assert image is not None
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="Jaccard similarity (chance)")
    fig.suptitle(title, fontsize=10)
    return _save(fig, out)


PALETTE = ("#2ca02c", "#d62728", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")


def _colour(i: int, n: int) -> Any:
    """Distinct colours: the palette for up to 7 curves, tab20 beyond."""
    return PALETTE[i] if n <= len(PALETTE) else plt.get_cmap("tab20")(i % 20)


def sources_figure(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Mask sources beside IMP: the first panel every source's ticket and IMP's against
    weights remaining, then one panel per source with its sanity checks (mean over seeds,
    band min-max)."""
    mine = [r for r in rows if r.get("source")]
    if not mine:
        return []
    sources = list(dict.fromkeys(r["source"] for r in mine))
    main = {(r["dataset"], r["setting"]) for r in mine}
    imp = [
        r | {"curve": "IMP"}
        for r in rows
        if not r.get("source") and r["kind"] == "ticket" and (r["dataset"], r["setting"]) in main
    ]
    panels = [
        (
            "every source's ticket",
            imp + [r | {"curve": r["source"]} for r in mine if r["kind"] == "ticket"],
        )
    ]
    panels += [
        (s, [r | {"curve": r["control"] or "ticket"} for r in mine if r["source"] == s])
        for s in sources
    ]
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, 4.0 * nrows), squeeze=False)
    for ax, (title, prow) in zip(axes.flat, panels, strict=False):
        curves = list(dict.fromkeys(r["curve"] for r in prow))
        for i, curve in enumerate(curves):
            t = aggregate(
                (r | {"control": curve} for r in prow if r["curve"] == curve), "es_test_acc"
            )[curve]
            x = t[:, 1] * 100
            color = _colour(i, len(curves))
            ax.plot(x, t[:, 2] * 100, "-o" if i == 0 else "--.", ms=3, color=color, label=curve)
            if t[:, 5].max() > 1:
                ax.fill_between(x, t[:, 3] * 100, t[:, 4] * 100, color=color, alpha=0.15, lw=0)
        level_axis(ax, [r["weights_remaining"] * 100 for r in prow])
        ax.set_ylabel("test accuracy at early stopping (%)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    seeds = len({r["seed"] for r in mine})
    fig.suptitle(f"Mask sources at IMP's levels; mean of {seeds_text(seeds)}{band(seeds)}")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _save(fig, out)


def cost_figure(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Accuracy against the cost of finding the mask, at up to three levels that every
    source and IMP trained, mean over seeds with min-max bars: wall seconds (top: a mask
    source's ``mask_seconds``; IMP's, the wall time of its trainings of the rounds before)
    and training steps (bottom: ``mask_steps``; IMP's, its full rounds before; a scoring
    source trains none, drawn at 1)."""
    mine = [r for r in rows if r.get("source") and r["kind"] == "ticket"]
    if not mine:
        return []
    main = {(r["dataset"], r["setting"]) for r in mine}
    imp = [
        r
        for r in rows
        if not r.get("source") and r["kind"] == "ticket" and (r["dataset"], r["setting"]) in main
    ]
    spent: dict[tuple[int, int], tuple[float, int]] = {}  # IMP's cost up to (seed, round)
    for r in sorted(imp, key=lambda r: r["round"]):
        secs, steps = spent.get((r["seed"], r["round"]), (0.0, 0))
        spent[(r["seed"], r["round"] + 1)] = (secs + r["wall_time_s"], steps + r["steps"])
    points = [
        (
            r["source"],
            r["round"],
            r["seed"],
            r["mask_seconds"],
            r.get("mask_steps") or 0,
            r["es_test_acc"],
        )
        for r in mine
    ]
    points += [
        ("IMP", r["round"], r["seed"], *spent[(r["seed"], r["round"])], r["es_test_acc"])
        for r in imp
        if (r["seed"], r["round"]) in spent
    ]
    whos = list(dict.fromkeys(p[0] for p in points))
    shared = sorted(set.intersection(*({p[1] for p in points if p[0] == w} for w in whos)))
    if not shared:
        return []
    levels = sorted({shared[len(shared) // 3], shared[(2 * len(shared)) // 3], shared[-1]})
    weights = {r["round"]: r["weights_remaining"] for r in imp}
    fig, axes = plt.subplots(2, len(levels), figsize=(4.8 * len(levels), 7.6), squeeze=False)
    for row, (col, xlabel) in enumerate(
        (
            (3, "seconds to find the mask (IMP: its training rounds)"),
            (4, "training steps to find the mask (none: drawn at 1)"),
        )
    ):
        for ax, level in zip(axes[row], levels, strict=True):
            for i, who in enumerate(whos):
                xs = [p[col] for p in points if p[0] == who and p[1] == level]
                ys = np.array([p[5] for p in points if p[0] == who and p[1] == level]) * 100
                x = float(np.mean(xs))
                ax.errorbar(
                    [max(x, 1e-3 if col == 3 else 1.0)],
                    [ys.mean()],
                    yerr=[[ys.mean() - ys.min()], [ys.max() - ys.mean()]],
                    fmt="o*sD^v<>p"[i % 9],
                    color=_colour(i, len(whos)),
                    label=who,
                    capsize=3,
                )
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("test accuracy at early stopping (%)")
            ax.set_title(
                f"round {level}: {weights.get(level, float('nan')) * 100:.3g}% of weights",
                fontsize=10,
            )
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Accuracy against the cost of finding the mask; mean over seeds, bars min-max")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return _save(fig, out)


def supermask_figure(rows: list[dict[str, Any]], title: str, out: Path) -> list[Path]:
    """Supermask accuracy (Zhou et al. 2019): each arm's mask on its untrained starting
    weights (the step-0 evaluation) against weights remaining."""
    mine = [r for r in rows if r.get("supermask_acc") is not None]
    if not mine:
        return []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _panel(ax, mine, "supermask_acc", 100, "test accuracy, mask on untrained weights (%)")
    ax.legend(loc="best", fontsize=8)
    seeds = len({r["seed"] for r in mine})
    ax.set_title(f"{title}\nmean of {seeds_text(seeds)}{band(seeds)}", fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def oneshot_figure(rows: list[dict[str, Any]], title: str, out: Path) -> list[Path]:
    """Supermasks: untrained test accuracy against weights remaining, one curve per
    criterion (learned masks dashed, Bernoulli supermasks as one star per seed), a panel per
    start (original initial values, signed constant); mean over seeds, band min-max."""
    if not rows:
        return []
    starts = list(dict.fromkeys(r["start"] for r in rows))
    fig, axes = plt.subplots(1, len(starts), figsize=(6.0 * len(starts), 4.4), squeeze=False)
    criteria = list(dict.fromkeys(r["criterion"] for r in rows))
    for ax, start in zip(axes[0], starts, strict=True):
        for i, name in enumerate(criteria):
            mine = [r for r in rows if r["start"] == start and r["criterion"] == name]
            color = _colour(i, len(criteria))
            if name == "bernoulli":  # no density asked: each seed where its mask ended
                ax.scatter(
                    [r["weights_remaining"] * 100 for r in mine],
                    [r["test_acc"] * 100 for r in mine],
                    marker="*",
                    s=40,
                    color=color,
                    label="bernoulli (learned, thresholded)",
                )
                continue
            levels = sorted({r["density"] for r in mine}, reverse=True)
            accs = [
                np.array([r["test_acc"] for r in mine if r["density"] == d]) * 100 for d in levels
            ]
            x = [
                np.mean([r["weights_remaining"] for r in mine if r["density"] == d]) * 100
                for d in levels
            ]
            learned = any(r.get("learned") for r in mine)
            style, label = ("--s", f"{name} (learned)") if learned else ("-o", name)
            ax.plot(x, [a.mean() for a in accs], style, ms=3, color=color, label=label)
            if max(len(a) for a in accs) > 1:
                ax.fill_between(
                    x,
                    [a.min() for a in accs],
                    [a.max() for a in accs],
                    color=color,
                    alpha=0.15,
                    lw=0,
                )
        level_axis(ax, [r["weights_remaining"] * 100 for r in rows if r["start"] == start])
        ax.set_ylabel("test accuracy, untrained (%)")
        ax.set_title(
            {"init": "original initial values", "signed_constant": "signed constant"}.get(
                start, start
            ),
            fontsize=10,
        )
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    seeds = len({r["seed"] for r in rows})
    fig.suptitle(f"{title}; mean of {seeds_text(seeds)}{band(seeds)}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return _save(fig, out)


WIDTH_SERIES = {  # (kind, method): label and colour in the width figure
    ("subnetwork", "edgepopup"): ("edge-popup subnetwork", "#2ca02c"),
    ("subnetwork", "biprop"): ("biprop subnetwork", "#9467bd"),
    ("fit", "edgepopup"): ("edge-popup fitted to the target's logits", "#17becf"),
    ("random_trained", ""): ("random mask, weights trained", "#1f77b4"),
}


def width_figure(cells: Sequence[Cell], out: Path) -> list[Path]:
    """The width test: each series' accuracy minus the trained target's against width (log
    scale), one panel per depth and keep fraction, Welch 95% intervals as bars and the 1 pp
    line. Untrained random masks (at chance) are left to the page's table."""
    shown = [c for c in cells if (c.kind, c.method) in WIDTH_SERIES]
    if not shown:
        return []
    depths = sorted({c.depth for c in shown})
    keeps = sorted({c.keep for c in shown}, key=lambda k: (k == "matched", k))
    fig, axes = plt.subplots(
        len(depths), len(keeps), figsize=(4.2 * len(keeps), 3.6 * len(depths)), squeeze=False
    )
    widths = sorted({c.width for c in shown})
    for ax, (depth, keep) in zip(axes.flat, [(d, k) for d in depths for k in keeps], strict=True):
        mine = [c for c in shown if c.depth == depth and c.keep == keep]
        if not mine:  # e.g. a keep fraction given at one depth only
            ax.set_axis_off()
            continue
        series = sorted({(c.kind, c.method, c.init) for c in mine})
        for i, (kind, method, init) in enumerate(series):
            label, color = WIDTH_SERIES[(kind, method)]
            pts = sorted(
                (c for c in mine if (c.kind, c.method, c.init) == (kind, method, init)),
                key=lambda c: c.width,
            )
            # Nudged sideways so that equal cells' bars do not hide each other.
            x = np.array([c.width for c in pts]) * 2 ** (0.05 * (i - (len(series) - 1) / 2))
            y = np.array([c.diff.mean * 100 for c in pts])
            lo = np.array([c.diff.ci[0] * 100 if c.diff.ci else np.nan for c in pts])
            hi = np.array([c.diff.ci[1] * 100 if c.diff.ci else np.nan for c in pts])
            ax.errorbar(
                x,
                y,
                yerr=np.vstack([y - lo, hi - y]),
                fmt="-o" if "signed" not in init else "--s",
                ms=3,
                capsize=2,
                color=color,
                label=f"{label}, {init}",
            )
        ax.axhline(0, color="black", lw=0.8)
        ax.axhline(-1, color="gray", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xticks(widths, labels=[f"{w}x" for w in widths])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("hidden width (x the target's)")
        ax.set_ylabel("accuracy minus target (pp)")
        ax.set_title(f"{depth} hidden layers, keep {keep}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    fig.suptitle(
        "Subnetworks of random networks against the trained target: mean over seeds, "
        "Welch 95% intervals; dotted: 1 pp below"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return _save(fig, out)
