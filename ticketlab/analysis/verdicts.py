"""Verdicts: does a ticket beat its control, dataset by dataset, with statistics.

For every dataset, optimiser setting and control, the ticket-minus-control difference in
test accuracy at early stopping is paired by seed (ticket and control of a seed share the
mask and the data order) at every pruning level (``stats.py``):

- per level: mean, 95% Student-t interval, p-value, the p-value adjusted over the
  comparison's levels (Holm by default, Benjamini-Hochberg as an option) and a Bonferroni
  interval that holds for all levels at once;
- pooled (the headline verdict): each seed's differences averaged over a range of levels
  (default: every pruned level, rounds 1 and up), then a one-sample t-test over seeds.

The same is computed for sign stability: the share of kept weights whose sign differs from
the start at the end of training, ticket minus control. Differences are in percentage
points (pp). With one seed there is no interval and no verdict, and a difference that is
not significant is reported as inconclusive, with its interval, never as "no difference".
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ticketlab.analysis.stats import (
    ALPHA,
    CORRECTIONS,
    Ratio,
    Test,
    adjust,
    fieller,
    paired_test,
    pooled_test,
)
from ticketlab.errors import TicketlabError
from ticketlab.experiments.lottery import TrainingKey

CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
# Fewest seeds for a verdict, per level and pooled alike. With 2 seeds the standard
# deviation rests on one degree of freedom: the t test is then only as good as the
# assumption that the two differences are normal, which two values cannot check, and a
# pair that agrees by chance gives a tiny interval and a confident verdict. Intervals are
# still shown.
MIN_SEEDS = 3
METRICS = {
    "es_test_acc": "test accuracy at early stopping",
    "sign_flip_es": "share of kept weights whose sign flipped by the early-stopping step",
    "sign_flip_final": "share of kept weights whose sign flipped by the end of training",
    "sign_flip_step": "share of kept weights whose sign flipped by a given step",
}


@dataclass
class Options:
    """How verdicts are drawn; recorded in the report."""

    correction: str = "holm"
    pool_rounds: tuple[int, int] | None = None  # inclusive; None: every pruned level (>= 1)
    alpha: float = ALPHA
    # Levels where a network has lost a whole class or layer ("disconnected"): left out of
    # the pooled test of a ticket against its controls (reported apart), or kept, as in a
    # comparison of pruning methods, where disconnection is the method's own result.
    disconnected: str = "exclude"

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise TicketlabError(
                f"correction {self.correction!r}: choose one of {', '.join(CORRECTIONS)}"
            )
        if self.disconnected not in ("exclude", "keep"):
            raise TicketlabError(f"disconnected {self.disconnected!r}: choose one of exclude, keep")

    def describe(self) -> str:
        rounds = (
            "every pruned level (rounds 1 and up)"
            if self.pool_rounds is None
            else f"rounds {self.pool_rounds[0]}-{self.pool_rounds[1]}"
        )
        name = CORRECTION_NAMES[self.correction]
        return (
            f"Two families, each {name}-adjusted (alpha {self.alpha:g}): the page's pooled "
            "tests (accuracy and sign flips of every comparison), and its per-level tests; "
            "every verdict names its family and size, and simultaneous intervals are "
            "Bonferroni over the per-level family. The pooled test averages each seed's "
            f"differences over {rounds}, then tests the per-seed means (one-sample t over "
            "seeds)"
            + (
                "; levels where any network has an output unit with no inputs left, or a "
                "layer with no weights, are flagged disconnected and left out of it."
                if self.disconnected == "exclude"
                else "."
            )
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
    diffs: dict[int, dict[int, float]] = field(default_factory=dict)  # [round][seed]
    first: str = "ticket"  # the arm the differences are of (minus ``control``)
    disconnected: list[int] = field(default_factory=list)  # levels left out of the pool
    # The family the pooled test is corrected in (its correction's name and size) and its
    # adjusted p-value there: set by ``correct_pooled``, None for a comparison on its own.
    family: tuple[str, int] | None = None
    pooled_p_adj: float | None = None
    # The family the per-level tests are corrected in: None for the comparison's own levels
    # (the default), else its name and size, set by ``correct_levels``.
    level_family: tuple[str, int] | None = None
    source: str | None = None  # the mask source whose ticket this is (None: IMP)

    @property
    def n_seeds(self) -> int:
        return max((r.test.n for r in self.rows), default=0)

    def headline(self) -> str:
        """The pooled verdict, in pp, with its interval and the rounds pooled, and the
        disconnected levels left out of it."""
        text = self._pooled_verdict()
        if self.disconnected:
            rounds = ", ".join(map(str, self.disconnected))
            text += f" (disconnected, left out of the pool: round(s) {rounds})"
        return text

    def _pooled_verdict(self) -> str:
        t = self.pooled
        if not self.pooled_rounds:
            return "no pooled verdict: no level in the pooled range"
        span = span_text(self.pooled_rounds)
        if t.ci is None:
            mean = format_pp(t.mean)
            return f"no verdict: {t.note} ({mean} pp over {span}, {t.n} seed(s))"
        word = "higher" if self.metric == "es_test_acc" else "more"
        lo, hi = (format_pp(v) for v in t.ci)
        what = f"{format_pp(t.mean)} pp over {span}, 95% CI [{lo}, {hi}]"
        if t.n < MIN_SEEDS:
            return f"no verdict with {t.n} seeds (needs {MIN_SEEDS}): {what}, {_p_is(t.p)}"
        p = t.p
        p_text = _p_is(t.p)
        if self.family is not None and self.pooled_p_adj is not None:
            name, size = self.family
            p = self.pooled_p_adj
            p_text += f" ({name} over {size} pooled tests: {_p_is(p)})"
        if p is not None and p < self.options.alpha:
            verdict = f"{self.first} {word if t.mean > 0 else _opposite(word)}"
            return f"{verdict}: {what}, {p_text}, {t.n} seeds"
        return f"inconclusive with {t.n} seeds: {what}, {p_text}"

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
                parts.append(f"{self.first} {w} at {_levels(hits)} weights remaining")
        rest = sum(r.sign(self.options.alpha) == 0 for r in self.rows)
        if rest:
            parts.append(f"inconclusive at {'the other ' if parts else ''}{rest} level(s)")
        over = (
            f"{len(self.rows)} levels"
            if self.level_family is None
            else f"the {self.level_family[1]} per-level tests of the page"
        )
        return f"{name}-adjusted over {over}: " + "; ".join(parts)

    def verdict(self) -> str:
        return f"{self.headline()}. {self.levels()}"


def _opposite(word: str) -> str:
    return {"higher": "lower", "more": "fewer"}[word]


def span_text(rounds: list[int]) -> str:
    return f"rounds {rounds[0]}-{rounds[-1]}" if len(rounds) > 1 else f"round {rounds[0]}"


def format_pp(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x * 100:+.2f}"


def format_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def _p_is(p: float | None) -> str:
    text = format_p(p)
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
        k = (r["dataset"], r["setting"], r.get("source") or "", r["round"])
        if r["kind"] == "ticket":
            ticket[k][r["seed"]] = r[metric]
            weights[k] = r["weights_remaining"]
        else:
            control[(*k, r["control"])][r["seed"]] = r[metric]
    cut = disconnected_levels(rows)
    groups: dict[tuple[str, str, str, str], list[Row]] = defaultdict(list)
    diffs: dict[tuple[str, str, str, str], dict[int, dict[int, float]]] = defaultdict(dict)
    for (ds, setting, src, rnd, ctrl), by_seed in sorted(control.items()):
        t = ticket.get((ds, setting, src, rnd), {})
        seeds = sorted(set(t) & set(by_seed))
        if not seeds:
            continue
        d = {s: t[s] - by_seed[s] for s in seeds}
        diffs[(ds, setting, src, ctrl)][rnd] = d
        groups[(ds, setting, src, ctrl)].append(
            Row(
                rnd,
                weights[(ds, setting, src, rnd)],
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
        in_range = [r.round for r in rs if lo <= r.round <= hi]
        ds, setting, src, ctrl = key
        flagged = [
            rnd
            for rnd in in_range
            if options.disconnected == "exclude" and (ds, setting, src, rnd) in cut
        ]
        pooled, used, _ = pooled_test(
            diffs[key], [rnd for rnd in in_range if rnd not in flagged], options.alpha
        )
        comparison = Comparison(ds, setting, ctrl, metric, rs, pooled, used, options, diffs[key])
        comparison.disconnected = flagged
        comparison.source = src or None
        out.append(comparison)
    return out


def correct_pooled(comparisons: list[Comparison], correction: str = "holm") -> None:
    """Make the pooled tests of ``comparisons`` one family: adjust their p-values together
    (Holm, or Benjamini-Hochberg) so that each verdict holds across all of them, and name
    the family and its size in every verdict."""
    tested = [c for c in comparisons if c.pooled.p is not None and c.pooled.n >= MIN_SEEDS]
    if not tested:
        return
    adjusted = adjust([c.pooled.p for c in tested if c.pooled.p is not None], correction)
    for c, p in zip(tested, adjusted, strict=True):
        c.family = (CORRECTION_NAMES[correction], len(tested))
        c.pooled_p_adj = p


def correct_levels(comparisons: list[Comparison], correction: str = "holm") -> None:
    """Make the per-level tests of all ``comparisons`` one family (a page's second family,
    beside its pooled tests): re-adjust every level's p-value over all of them, and widen
    the simultaneous intervals to Bonferroni over the family."""
    tested = [(c, row) for c in comparisons for row in c.rows if row.test.p is not None]
    if not tested:
        return
    adjusted = adjust([row.test.p for _, row in tested if row.test.p is not None], correction)
    for (c, row), p in zip(tested, adjusted, strict=True):
        row.p_adj = p
        row.simultaneous = row.test.interval(1 - c.options.alpha / len(tested))
    for c in {id(c): c for c, _ in tested}.values():
        c.level_family = (CORRECTION_NAMES[correction], len(tested))


def disconnected_levels(rows: list[dict[str, Any]]) -> set[tuple[str, str, str, int]]:
    """(dataset, setting, source or "", round) where any network (ticket or control) has
    an output unit with no inputs left, or a weight tensor with none kept: a fixed rule, not
    a range chosen per study. The output layer is the last tensor of ``units_without_inputs``."""
    out = set()
    for r in rows:
        units = r.get("units_without_inputs") or {}
        per_layer = r.get("weights_remaining_per_layer") or {}
        output_cut = bool(units) and list(units.values())[-1] > 0
        if output_cut or any(v == 0 for v in per_layer.values()):
            out.add((r["dataset"], r["setting"], r.get("source") or "", r["round"]))
    return out


def arm(row: dict[str, Any]) -> str:
    """Which arm a record belongs to: ``ticket`` or its control's name."""
    return "ticket" if row["kind"] == "ticket" else row["control"]


def compare_arms(
    rows: list[dict[str, Any]],
    first: str,
    second: str,
    metric: str = "es_test_acc",
    options: Options | None = None,
) -> list[Comparison]:
    """Direct paired comparisons of two arms (``ticket`` or any control), ``first`` minus
    ``second``, for every dataset and setting that has both: per level and pooled, with the
    same statistics as the ticket against a control."""
    if first == second:
        raise ValueError("compare two different arms")
    chosen = []
    for r in rows:
        if arm(r) == first:
            chosen.append(r | {"kind": "ticket", "control": None})
        elif arm(r) == second:
            chosen.append(r | {"kind": "control", "control": second})
    return _compare_as(first, chosen, metric, options)


def _compare_as(
    first: str, rows: list[dict[str, Any]], metric: str, options: Options | None
) -> list[Comparison]:
    """``compare`` over rows relabelled as ticket (the arm named ``first``) and control:
    the comparisons between two arms, settings, sources or runs."""
    out = compare(rows, metric, options)
    for c in out:
        c.first = first
    return out


def compare_sources(
    rows: list[dict[str, Any]], metric: str = "es_test_acc", options: Options | None = None
) -> list[Comparison]:
    """Each mask source's ticket against IMP's at the same level (matched counts), paired by
    seed, on the main dataset and setting where both trained. A method comparison: unless
    ``options`` say otherwise, disconnected levels stay in the pool (a collapsed layer is
    the method's own result)."""
    options = options or Options(disconnected="keep")
    imp = [
        r | {"kind": "control", "control": "IMP"}
        for r in rows
        if r["kind"] == "ticket" and not r.get("source")
    ]
    out = []
    for src in dict.fromkeys(r["source"] for r in rows if r.get("source")):
        mine = [
            r | {"source": None} for r in rows if r.get("source") == src and r["kind"] == "ticket"
        ]
        places = {(r["dataset"], r["setting"]) for r in mine}
        theirs = [r for r in imp if (r["dataset"], r["setting"]) in places]
        out += _compare_as(src, [*mine, *theirs], metric, options)
    return out


def compare_runs(
    first: list[dict[str, Any]],
    second: list[dict[str, Any]],
    labels: tuple[str, str],
    metric: str = "es_test_acc",
    options: Options | None = None,
) -> list[Comparison]:
    """The IMP tickets of one run against another's (e.g. two ``prune.criterion``), first
    minus second, paired by seed and round on every dataset and setting both trained. A
    method comparison: disconnected levels stay in the pool unless ``options`` say not."""
    options = options or Options(disconnected="keep")
    mine = [r | {"kind": "ticket"} for r in first if r["kind"] == "ticket" and not r.get("source")]
    theirs = [
        r | {"kind": "control", "control": labels[1]}
        for r in second
        if r["kind"] == "ticket" and not r.get("source")
    ]
    return _compare_as(labels[0], [*mine, *theirs], metric, options)


def compare_settings(
    rows: list[dict[str, Any]],
    first: str,
    second: str,
    metric: str,
    who: str = "ticket",
    options: Options | None = None,
) -> list[Comparison]:
    """One arm (``who``) under setting ``first`` minus itself under ``second``, paired by
    seed and level, for every dataset that has both (e.g. the ticket's sign flips under SGD
    against Adam at equal steps, ``metric="sign_flip_step"``)."""
    chosen = []
    for r in rows:
        if arm(r) == who and r["setting"] in (first, second):
            kind = "ticket" if r["setting"] == first else "control"
            label = f"{first} vs {second}"
            chosen.append(r | {"kind": kind, "control": second, "setting": label})
    return _compare_as(first, chosen, metric, options)


def at_equal_steps(
    rows: list[dict[str, Any]], evals: list[dict[str, Any]], field: str = "sign_flip"
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``rows`` with ``field`` as evaluated at one step per dataset, as ``<field>_step``
    (e.g. ``sign_flip_step``): the latest step that every training of the dataset evaluated,
    so that settings of different lengths compare at equal steps. ``evals`` are evaluation
    points (``training_id``, ``step``, ``field``). Returns the rows and the step used."""
    by_id: dict[str, dict[int, float]] = defaultdict(dict)
    for e in evals:
        if e.get(field) is not None:
            by_id[e["training_id"]][int(e["step"])] = float(e[field])
    steps: dict[str, set[int]] = {}
    for r in rows:
        got = set(by_id.get(training_id(r), {}))
        steps[r["dataset"]] = got if r["dataset"] not in steps else steps[r["dataset"]] & got
    at = {ds: max(s) for ds, s in steps.items() if s}
    out = [
        r | {f"{field}_step": by_id[training_id(r)][at[r["dataset"]]]}
        for r in rows
        if r["dataset"] in at
    ]
    return out, at


def training_id(r: dict[str, Any]) -> str:
    """A record's training id (as the store and the evaluations key it), also for exports
    made before records carried it."""
    if r.get("training_id"):
        return str(r["training_id"])
    key = TrainingKey(r["round"], r["seed"], r["kind"], r["control"], r["dataset"], r["setting"])
    return key.id


@dataclass
class GapShare:
    """The share of the ticket's lead over ``reference`` that ``control`` closes, pooled
    over ``rounds``: mean(control - reference) / mean(ticket - reference) over the seeds,
    with its Fieller interval (``stats.fieller``)."""

    dataset: str
    setting: str
    control: str
    reference: str
    rounds: list[int]
    ratio: Ratio

    def describe(self) -> str:
        r = self.ratio
        if r.ci is None:
            return (
                f"{r.estimate * 100:.0f}% (unbounded: the ticket's lead over {self.reference} "
                f"is not resolved away from zero; {r.n} seeds)"
            )
        return (
            f"{r.estimate * 100:.0f}% [{r.ci[0] * 100:.0f}%, {r.ci[1] * 100:.0f}%] "
            f"(95% Fieller interval, {r.n} seeds)"
        )


def gap_shares(comparisons: list[Comparison], reference: str = "reinit") -> list[GapShare]:
    """For every comparison of the ticket with a control other than ``reference`` that has
    a ``reference`` comparison beside it (same dataset and setting), the share of the
    ticket's lead over ``reference`` the control closes, per seed averaged over the levels
    both pooled, on the seeds paired at all of them."""
    by = {(c.dataset, c.setting, c.source, c.control): c for c in comparisons}
    out = []
    for c in comparisons:
        ref = by.get((c.dataset, c.setting, c.source, reference))
        if c.control == reference or ref is None:
            continue
        rounds = sorted(set(c.pooled_rounds) & set(ref.pooled_rounds))
        if not rounds:
            continue
        seeds = sorted(set.intersection(*(set(c.diffs[r]) & set(ref.diffs[r]) for r in rounds)))
        if len(seeds) < 2:
            continue
        lead = [sum(ref.diffs[r][s] for r in rounds) / len(rounds) for s in seeds]
        left = [sum(c.diffs[r][s] for r in rounds) / len(rounds) for s in seeds]
        closed = [a - b for a, b in zip(lead, left, strict=True)]  # control minus reference
        control = f"{c.source}: {c.control}" if c.source else c.control
        share = GapShare(c.dataset, c.setting, control, reference, rounds, fieller(closed, lead))
        out.append(share)
    return out


def ticket_layers(
    rows: list[dict[str, Any]], source: str | None = None
) -> dict[tuple[str, str, int], tuple[str, str]]:
    """Per (dataset, setting, round), the ticket's weights remaining per layer (%, mean
    over seeds) and its units without inputs per layer (the most over seeds), for the
    layers that have any: where a layer has collapsed. ``source``: a mask source's tickets
    instead of IMP's."""
    layers: dict[tuple[str, str, int], dict[str, list[float]]] = {}
    cut: dict[tuple[str, str, int], dict[str, int]] = defaultdict(dict)
    for r in rows:
        if r["kind"] != "ticket" or r.get("source") != source:
            continue
        k = (r["dataset"], r["setting"], r["round"])
        for name, v in r["weights_remaining_per_layer"].items():
            layers.setdefault(k, {}).setdefault(name, []).append(v)
        for name, n in (r.get("units_without_inputs") or {}).items():
            cut[k][name] = max(n, cut[k].get(name, 0))
    return {
        k: (
            " / ".join(f"{sum(v) / len(v) * 100:.2f}" for v in per_layer.values()),
            ", ".join(f"{name} {n}" for name, n in cut[k].items() if n),
        )
        for k, per_layer in layers.items()
    }
