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

import numpy as np
from scipy import stats

CORRECTIONS = ("holm", "bh")
ALPHA = 0.05


def t_quantile(df: int, q: float) -> float:
    """The exact ``q`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(stats.t.ppf(q, df))


@dataclass
class Test:
    """A one-sample t-test of paired differences against zero."""

    n: int
    mean: float
    sd: float
    ci: tuple[float, float] | None  # (1 - alpha) interval; None with one seed
    p: float | None  # two-sided; None with one seed

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
    mean = float(x.mean())
    if n < 2:
        return Test(n, mean, math.nan, None, None)
    sd = float(x.std(ddof=1))
    if sd == 0.0:  # every seed agrees exactly: the interval is a point
        return Test(n, mean, 0.0, (mean, mean), 1.0 if mean == 0 else 0.0)
    t = mean / (sd / math.sqrt(n))
    p = float(2 * stats.t.sf(abs(t), n - 1))
    test = Test(n, mean, sd, None, p)
    test.ci = test.interval(1 - alpha)
    return test


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
