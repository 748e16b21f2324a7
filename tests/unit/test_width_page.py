"""The width test's page and figure: Welch's interval per cell against the target, and the
narrowest width each series is shown within 1 pp."""

import math
from pathlib import Path
from typing import Any

from tests.helpers import load_script
from ticketlab.analysis import width as page
from ticketlab.analysis.figures import width_figure


def _row(kind: str, width: int, seed: int, acc: float, method: str = "edgepopup") -> dict[str, Any]:
    return {
        "cell": f"{kind}/2/{width}",
        "kind": kind,
        "depth": 0 if kind == "target" else 2,
        "width": 0 if kind == "target" else width,
        "init": "" if kind == "target" else "kaiming_normal",
        "method": method if kind in ("subnetwork", "fit") else "",
        "keep": 1.0 if kind == "target" else 0.5,
        "matched": False,
        "seed": seed,
        "kept_weights": 100 * max(width, 1),
        "test_acc": acc,
        "fit_mse": None,
    }


ROWS = [
    *(_row("target", 0, s, a) for s, a in enumerate([0.979, 0.98, 0.981])),
    # width 1: 1 pp below, width 2: 0.2 pp below, both with the target's spread
    *(_row("subnetwork", 1, s, a) for s, a in enumerate([0.969, 0.97, 0.971])),
    *(_row("subnetwork", 2, s, a) for s, a in enumerate([0.977, 0.978, 0.979])),
    *(_row("random_untrained", 1, s, 0.1 + s / 100) for s in range(3)),
]


def test_each_cell_is_welchs_interval_against_the_target_and_the_narrowest_width_named() -> None:
    cells = page.cells(ROWS)
    one, two = (c for c in cells if c.kind == "subnetwork")
    # Equal variances 1e-6 and n = 3 a side: se = sqrt(2e-6 / 3), df = 4, t = 2.7764.
    half = 2.776445 * math.sqrt(2e-6 / 3)
    assert math.isclose(one.diff.mean, -0.01, abs_tol=1e-12)
    assert one.diff.ci is not None and math.isclose(one.diff.ci[0], -0.01 - half, rel_tol=1e-5)
    assert not one.within  # [-1.23, -0.77] pp reaches below -1 pp
    assert two.within  # [-0.43, +0.03] pp
    _, body, sentences = page.table(ROWS)
    assert [r[2] for r in body if r[0].startswith("subnetwork")] == ["1x", "2x"]
    assert any(
        "edgepopup, kaiming_normal, depth 2, keep 0.5): within 1 pp of the target "
        "from width 2x on" in s
        for s in sentences
    )
    assert any("random mask, untrained" in s and "at no width" in s for s in sentences)


def test_the_figure_draws_every_series_but_the_untrained_masks(tmp_path: Path) -> None:
    paths = width_figure(page.cells(ROWS), tmp_path / "width")
    assert [p.name for p in paths] == ["width.png", "width.svg"]
    assert paths[0].stat().st_size > 10_000
    untrained = [r for r in ROWS if r["kind"] in ("target", "random_untrained")]
    assert width_figure(page.cells(untrained), tmp_path / "none") == []
    assert not (tmp_path / "none.png").exists()


def test_a_series_within_at_one_width_but_not_a_wider_one_says_so() -> None:
    assert page._within([1, 2, 4], []).startswith("at no width measured")
    assert page._within([1, 2, 4], [2, 4]) == "within 1 pp of the target from width 2x on."
    assert page._within([1, 2, 4, 8], [1, 4]) == (
        "within 1 pp of the target at width 1x, 4x, not shown at 2x, 8x."
    )


def test_the_reading_tables_put_each_series_widths_side_by_side() -> None:
    """scripts/width_reading.py: a row per depth and keep fraction, a column per width, each
    Welch interval in pp (sd 0.1 pp in both groups of 3: half-width t(0.975, 4) x
    sqrt(2/3) x 0.1 = 0.23 pp), in bold only where it lies above -1 pp."""
    reading = load_script("width_reading").reading(ROWS)
    assert "| 2 | 0.5 | -1.00 [-1.23, -0.77] | **-0.20 [-0.43, +0.03]** |" in reading
    assert "| 2 | 0.5 | 100 | 200 |" in reading  # kept weights
    # Two tables, edge-popup's and the kept weights: the untrained masks are left to the page.
    assert reading.count("| depth | keep |") == 2
