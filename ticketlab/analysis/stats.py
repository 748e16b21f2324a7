"""Paired statistics over seeds: intervals, p-values, corrections for many levels, pooling.

A comparison of a ticket with a control is paired by seed: ticket and control of a seed
share the mask (or its counts), the data order and the round. At each pruning level the
paired differences over seeds give a mean, a Student-t interval with the exact quantile for
their degrees of freedom and a two-sided one-sample t-test p-value. The levels of one
comparison form a family: p-values are adjusted by Holm (default; controls the family-wise
error) or Benjamini-Hochberg (controls the false discovery rate), and Bonferroni intervals
hold for all levels at once. The pooled test averages each seed's differences over a range
of levels and tests those per-seed means (one-sample t over seeds): one test per
comparison, the headline verdict.

Failing to find a difference is not evidence of equivalence: with few seeds intervals are
wide, so wording says "inconclusive" and gives the interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CORRECTIONS = ("holm", "bh")
ALPHA = 0.05


def _student_t() -> Any:
    """scipy's Student t, imported on first use: scipy.stats takes about a second to import,
    which every command would pay otherwise, `ticketlab --help` included."""
    from scipy.stats import t

    return t


def t_quantile(df: int, q: float) -> float:
    """The exact ``q`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(_student_t().ppf(q, df))


@dataclass
class Test:
    """A one-sample t-test of paired differences against zero."""

    n: int
    mean: float
    sd: float
    ci: tuple[float, float] | None  # (1 - alpha) interval; None when there is none
    p: float | None  # two-sided; None when there is none
    note: str | None = None  # why there is no interval or p-value (a degenerate case)

    def interval(self, level: float) -> tuple[float, float] | None:
        """The two-sided interval at confidence ``level`` (e.g. Bonferroni's 1 - a/m)."""
        if self.n < 2:
            return None
        half = t_quantile(self.n - 1, 0.5 + level / 2) * self.sd / math.sqrt(self.n)
        return (self.mean - half, self.mean + half)


def paired_test(diffs: Sequence[float], alpha: float = ALPHA) -> Test:
    """Mean, sd, (1 - alpha) t interval and two-sided p-value of ``diffs`` (per seed)."""
    x = np.asarray(diffs, dtype=float)
    n = len(x)
    if n == 0:
        return Test(0, math.nan, math.nan, None, None, "no paired seeds")
    mean = float(x.mean())
    if n < 2:
        return Test(n, mean, math.nan, None, None, "one seed: no interval")
    sd = float(x.std(ddof=1))
    if sd == 0.0:  # a t-test needs spread: identical differences give none
        what = (
            "every seed's difference is zero"
            if mean == 0
            else ("every seed's difference is the same")
        )
        return Test(n, mean, 0.0, None, None, f"{what}: no interval or p-value")
    t = mean / (sd / math.sqrt(n))
    p = float(2 * _student_t().sf(abs(t), n - 1))
    test = Test(n, mean, sd, None, p)
    test.ci = test.interval(1 - alpha)
    return test


def welch(a: Sequence[float], b: Sequence[float], alpha: float = ALPHA) -> Test:
    """mean(a) - mean(b) of two unpaired samples, with Welch's (1 - alpha) interval (the
    Welch-Satterthwaite degrees of freedom, exact t quantile) and two-sided p-value. ``n``
    is the smaller sample's size; ``sd`` the difference's standard error."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) < 2 or len(y) < 2:
        return Test(
            min(len(x), len(y)),
            float(x.mean() - y.mean()) if len(x) and len(y) else math.nan,
            math.nan,
            None,
            None,
            "fewer than two values on a side: no interval",
        )
    va, vb = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    mean, se = float(x.mean() - y.mean()), float(math.sqrt(va + vb))
    if se == 0.0:
        return Test(min(len(x), len(y)), mean, 0.0, None, None, "no spread: no interval")
    df = (va + vb) ** 2 / (va**2 / (len(x) - 1) + vb**2 / (len(y) - 1))
    half = float(_student_t().ppf(1 - alpha / 2, df)) * se
    p = float(2 * _student_t().sf(abs(mean) / se, df))
    return Test(min(len(x), len(y)), mean, se, (mean - half, mean + half), p)


def holm(p: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error)."""
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj.tolist()


def benjamini_hochberg(p: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate)."""
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, m * p[i] / (rank + 1))
        adj[i] = min(1.0, running)
    return adj.tolist()


def adjust(p: Sequence[float], correction: str) -> list[float]:
    if correction == "holm":
        return holm(p)
    if correction == "bh":
        return benjamini_hochberg(p)
    raise ValueError(f"unknown correction {correction!r}; choose one of {CORRECTIONS}")


def pooled_test(
    diffs: dict[int, dict[int, float]], levels: Sequence[int], alpha: float = ALPHA
) -> tuple[Test, list[int], list[int]]:
    """Average each seed's differences over ``levels`` (``diffs[level][seed]``), then test
    the per-seed averages. Uses the levels of ``levels`` present, and the seeds paired at
    every one of them; returns the test, the levels and the seeds used."""
    used = [lv for lv in levels if lv in diffs]
    if not used:
        return Test(0, math.nan, math.nan, None, None), [], []
    seeds = sorted(set.intersection(*(set(diffs[lv]) for lv in used)))
    per_seed = [float(np.mean([diffs[lv][s] for lv in used])) for s in seeds]
    if not per_seed:
        return Test(0, math.nan, math.nan, None, None), used, []
    return paired_test(per_seed, alpha), used, seeds


@dataclass
class Ratio:
    """A ratio of two paired means with its Fieller interval: ``kind`` is ``bounded``
    (the interval ``ci``) or ``unbounded`` (the denominator's own interval includes zero,
    so no finite interval holds the ratio at this level: it is not resolved)."""

    estimate: float
    ci: tuple[float, float] | None
    kind: str
    n: int


def fieller(
    numerator: Sequence[float], denominator: Sequence[float], alpha: float = ALPHA
) -> Ratio:
    """Fieller's (1 - alpha) interval for mean(numerator) / mean(denominator), the two
    paired by seed (e.g. a control's lead over the re-init against the ticket's: the share
    of the gap the control closes). The set of ratios r for which the paired t-test of
    numerator - r x denominator does not reject: with a, b the means, v_aa, v_bb, v_ab the
    variances and covariance of the means and t the exact quantile on n - 1 degrees of
    freedom, the roots of (b^2 - t^2 v_bb) r^2 - 2 (a b - t^2 v_ab) r + (a^2 - t^2 v_aa)."""
    a_x = np.asarray(numerator, dtype=float)
    b_x = np.asarray(denominator, dtype=float)
    n = len(a_x)
    if n != len(b_x) or n < 2:
        raise ValueError("a Fieller interval needs at least two paired seeds")
    a, b = float(a_x.mean()), float(b_x.mean())
    cov = np.cov(a_x, b_x, ddof=1) / n
    v_aa, v_bb, v_ab = float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1])
    t2 = t_quantile(n - 1, 1 - alpha / 2) ** 2
    qa, qb, qc = b * b - t2 * v_bb, -2 * (a * b - t2 * v_ab), a * a - t2 * v_aa
    estimate = a / b if b != 0 else math.nan
    disc = qb * qb - 4 * qa * qc
    if qa <= 0:  # the denominator is not resolved away from zero
        return Ratio(estimate, None, "unbounded", n)
    root = math.sqrt(max(disc, 0.0))
    lo, hi = (-qb - root) / (2 * qa), (-qb + root) / (2 * qa)
    return Ratio(estimate, (lo, hi), "bounded", n)
