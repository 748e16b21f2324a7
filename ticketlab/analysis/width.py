"""The width test's page: each cell's accuracy minus the trained target's, against width.

Widths are different networks, not the same network under another treatment, so nothing
pairs a seed of one cell with a seed of the target: each difference is Welch's (unpaired)
95% interval over seeds (``stats.welch``), one per cell, uncorrected for their number (the
page says so). A cell "comes within 1 pp" of the target when its whole interval lies above
-1 pp.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any

from ticketlab.analysis.stats import Test, welch

KINDS = {
    "subnetwork": "subnetwork of the frozen random network",
    "fit": "subnetwork fitted to the target's logits",
    "random_untrained": "random mask, untrained",
    "random_trained": "random mask, weights trained",
}


def _pp(x: float) -> str:
    return f"{x * 100:+.2f}"


@dataclass(frozen=True)
class Cell:
    """One cell of the test (a series at one width) against the target: the mean over its
    seeds and Welch's interval for its difference from the target's."""

    kind: str
    method: str
    init: str
    depth: int
    keep: str  # the keep fraction as written, or "matched"
    width: int
    rows: list[dict[str, Any]]
    diff: Test

    @property
    def series(self) -> tuple[str, str, str, int, str]:
        return (self.kind, self.method, self.init, self.depth, self.keep)

    @property
    def label(self) -> str:
        return KINDS[self.kind] + (f", {self.method}" if self.method else "") + f", {self.init}"

    @property
    def within(self) -> bool:
        """Shown within 1 pp of the target: the whole interval above -1 pp."""
        return self.diff.ci is not None and self.diff.ci[0] > -0.01

    @property
    def difference(self) -> str:
        """The difference from the target in pp with its interval, as the page prints it."""
        t = self.diff
        return _pp(t.mean) + ("" if t.ci is None else f" [{_pp(t.ci[0])}, {_pp(t.ci[1])}]")

    @property
    def kept(self) -> int:
        """Kept weights, the seeds' mean (a matched fraction's counts differ by a few)."""
        return sum(r["kept_weights"] for r in self.rows) // len(self.rows)

    @property
    def fit_mse(self) -> float | None:
        """The logit fit's error to the target's logits, the seeds' mean (None: no fit)."""
        fit = [r["fit_mse"] for r in self.rows if r.get("fit_mse") is not None]
        return sum(fit) / len(fit) if fit else None


def cells(rows: list[dict[str, Any]]) -> list[Cell]:
    """Every cell but the target's, by series and then width."""
    target = [r["test_acc"] for r in rows if r["kind"] == "target"]

    def series(r: dict[str, Any]) -> tuple[str, str, str, int, str]:
        keep = "matched" if r["matched"] else f"{r['keep']:g}"
        return (r["kind"], r["method"], r["init"], r["depth"], keep)

    mine = sorted((r for r in rows if r["kind"] != "target"), key=lambda r: (series(r), r["width"]))
    out = []
    for key, group in groupby(mine, key=lambda r: (*series(r), r["width"])):
        cell_rows = list(group)
        diff = welch([r["test_acc"] for r in cell_rows], target)
        out.append(Cell(*key, rows=cell_rows, diff=diff))
    return out


def table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]], list[str]]:
    """The page's table (header, rows) and one sentence per series: at which widths the
    cell's interval lies above -1 pp, if any."""
    header = [
        "cell",
        "depth",
        "width",
        "keep",
        "kept weights",
        "seeds",
        "accuracy %",
        "minus target (pp), Welch 95%",
    ]
    out, sentences = [], []
    for key, group in groupby(cells(rows), key=lambda c: c.series):
        kind, method, init, depth, keep = key
        within, widths = [], []
        for c in group:
            accs = [r["test_acc"] for r in c.rows]
            widths.append(c.width)
            if c.within:
                within.append(c.width)
            out.append(
                [
                    c.label,
                    str(depth),
                    f"{c.width}x",
                    keep if keep != "matched" else f"matched ({c.rows[0]['keep']:.3g})",
                    f"{c.kept:,}",
                    str(len(accs)),
                    f"{sum(accs) / len(accs) * 100:.2f}"
                    + ("" if c.fit_mse is None else f"; logit MSE {c.fit_mse:.3g}"),
                    c.difference,
                ]
            )
        what = f"{KINDS[kind]} ({', '.join(x for x in (method, init) if x)}, depth {depth}, "
        what += f"keep {keep})"
        sentences.append(f"{what}: {_within(widths, within)}")
    return header, out, sentences


def _within(widths: list[int], within: list[int]) -> str:
    """Where a series is shown within 1 pp: from its narrowest such width on, or at which
    widths and not at which wider ones, or nowhere."""
    if not within:
        return "at no width measured is it shown within 1 pp of the target."
    wider = [w for w in widths if w > within[0]]
    missed = [w for w in wider if w not in within]
    if not missed:
        return f"within 1 pp of the target from width {within[0]}x on."
    return (
        f"within 1 pp of the target at width {', '.join(f'{w}x' for w in within)}, "
        f"not shown at {', '.join(f'{w}x' for w in missed)}."
    )


def markdown(rows: list[dict[str, Any]], preamble: str, figure: bool = False) -> str:
    """The page; ``figure``: link ``width.png`` (drawn beside it once the run is done)."""
    target = [r["test_acc"] for r in rows if r["kind"] == "target"]
    header, body, sentences = table(rows)
    lines = [
        "# The strong lottery ticket hypothesis: subnetworks of wide random networks",
        "",
        preamble,
        "",
        f"Target: {len(target)} seeds, test accuracy at early stopping "
        + (f"{sum(target) / len(target) * 100:.2f}%." if target else "not trained yet."),
        "",
        *(["![Accuracy minus the target's against width](width.png)", ""] if figure else []),
        "Each cell's difference from the target is Welch's unpaired 95% interval over seeds "
        "(widths are different networks: no pairing by seed applies), one interval per cell "
        "with no correction for their number. A cell comes within 1 pp when its whole "
        "interval lies above -1 pp; an interval that reaches below is not evidence of a gap.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(r) + " |" for r in body),
        "",
        *(f"- {s}" for s in sentences),
        "",
    ]
    return "\n".join(lines)
