"""Statistics against hand-computed cases, and the wording of verdicts."""

import math

import pytest
from scipy.stats import t as scipy_t

from ticketlab.analysis.stats import (
    benjamini_hochberg,
    fieller,
    holm,
    paired_test,
    pooled_test,
    t_quantile,
    welch,
)
from ticketlab.analysis.verdicts import Options, compare


def test_exact_t_quantiles_for_every_df() -> None:
    assert t_quantile(4, 0.975) == pytest.approx(2.776445, abs=1e-6)
    assert t_quantile(40, 0.975) == pytest.approx(2.021075, abs=1e-6)  # not 1.96
    assert t_quantile(100, 0.975) == pytest.approx(1.983972, abs=1e-6)


def test_paired_test_known_case() -> None:
    t = paired_test([1, 2, 3, 4, 5])
    # mean 3, sd sqrt(2.5), t = 3 / (sqrt(2.5)/sqrt(5)) = 4.2426 on 4 df
    assert (t.n, t.mean, t.sd) == (5, 3.0, pytest.approx(math.sqrt(2.5)))
    assert t.p == pytest.approx(0.013236, abs=1e-6)
    assert t.ci == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)
    assert t.interval(1 - 0.05 / 4)[1] == pytest.approx(3 + 4.314656 * math.sqrt(0.5), abs=1e-5)
    one = paired_test([0.2])
    assert one.ci is None and one.p is None


def test_holm_and_benjamini_hochberg_known_case() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_pooled_test_averages_each_seed_over_the_levels_it_has_at_all_of_them() -> None:
    diffs = {1: {0: 1.0, 1: 2.0, 2: 3.0}, 2: {0: 3.0, 1: 4.0, 2: 8.0, 3: 9.0}, 5: {0: 100.0}}
    test, levels, seeds = pooled_test(diffs, [1, 2, 3])
    assert levels == [1, 2] and seeds == [0, 1, 2]  # seed 3 lacks level 1; level 3 absent
    expected = paired_test([2.0, 3.0, 5.5])
    assert (test.mean, test.p, test.ci) == (expected.mean, expected.p, expected.ci)


def rows(diffs_by_round: dict[int, list[float]], base: float = 0.9) -> list[dict]:
    out = []
    for rnd, diffs in diffs_by_round.items():
        for seed, d in enumerate(diffs):
            common = {"dataset": "mnist", "setting": "adam", "round": rnd, "seed": seed}
            out.append(
                common
                | {"kind": "ticket", "control": None, "es_test_acc": base + d}
                | {"weights_remaining": 0.8**rnd}
            )
            out.append(
                common
                | {"kind": "control", "control": "reinit", "es_test_acc": base}
                | {"weights_remaining": 0.8**rnd}
            )
    return out


def test_verdicts_say_inconclusive_with_the_interval_never_no_difference() -> None:
    (c,) = compare(rows({0: [0.0, 0.001, -0.001], 1: [0.004, -0.011, 0.001]}))
    text = c.verdict()
    assert text.startswith("inconclusive with 3 seeds: -0.20 pp over round 1, 95% CI [")
    assert "no difference" not in text and "no significant" not in text
    assert "Holm-adjusted over 2 levels: inconclusive at 2 level(s)" in text


def test_verdicts_name_the_levels_that_survive_the_correction() -> None:
    clear = [0.02, 0.021, 0.019, 0.02, 0.022]
    data = {0: [0.001, -0.001, 0.0, 0.002, -0.002], 1: clear, 2: [x + 0.01 for x in clear]}
    (c,) = compare(rows(data))
    assert c.headline().startswith("ticket higher: +2.54 pp over rounds 1-2, 95% CI [")
    assert "ticket higher at 80%, 64% weights remaining; inconclusive at the other 1" in c.levels()
    (bh,) = compare(rows(data), options=Options(correction="bh"))
    assert bh.levels().startswith("Benjamini-Hochberg-adjusted over 3 levels")
    (only_2,) = compare(rows(data), options=Options(pool_rounds=(2, 2)))
    assert "+3.04 pp over round 2" in only_2.headline()


def test_two_seeds_show_an_interval_but_no_verdict() -> None:
    (c,) = compare(rows({0: [0.0, 0.001], 1: [0.020, 0.021], 2: [0.030, 0.031]}))
    assert c.headline().startswith("no verdict with 2 seeds (needs 3): +2.55 pp over rounds 1-2")
    assert c.levels() == "no per-level verdicts with fewer than 3 seeds"
    assert all(r.sign(0.05) == 0 for r in c.rows) and all(r.ci is not None for r in c.rows)


def test_fieller_with_a_constant_denominator_is_the_t_interval_of_the_numerator() -> None:
    # Denominator 2 in every seed (no variance): the ratio's interval is the numerator's
    # t interval halved. a = 1, 2, 3, 4: mean 2.5, sd sqrt(5/3), se sqrt(5/3)/2 = 0.6455;
    # t(3, 0.975) = 3.1824: 2.5 +- 2.0543, halved: 1.25 +- 1.0271 = [0.2229, 2.2771].
    r = fieller([1, 2, 3, 4], [2, 2, 2, 2])
    assert r.kind == "bounded" and r.estimate == pytest.approx(1.25)
    assert r.ci == pytest.approx((0.22285, 2.27715), abs=1e-4)


def test_fieller_endpoints_are_where_the_paired_test_just_rejects() -> None:
    a, b = [0.5, 1.1, 0.2, 0.9, 0.7], [1.0, 1.6, 1.1, 1.4, 1.2]
    r = fieller(a, b)
    assert r.kind == "bounded" and r.ci is not None
    for end in r.ci:  # numerator - end x denominator: t statistic exactly at the quantile
        d = [x - end * y for x, y in zip(a, b, strict=True)]
        assert paired_test(d).p == pytest.approx(0.05, abs=1e-9)
    inside = [x - r.estimate * y for x, y in zip(a, b, strict=True)]
    assert paired_test(inside).p == pytest.approx(1.0)


def test_fieller_is_unbounded_when_the_denominator_includes_zero() -> None:
    r = fieller([1.0, 2.0, 1.5], [1.0, -1.0, 0.5])  # the gap itself is unresolved
    assert r.kind == "unbounded" and r.ci is None


@pytest.mark.parametrize(
    ("diffs", "note"),
    [
        ([0.01, 0.01, 0.01], "every seed's difference is the same: no interval or p-value"),
        ([0.0, 0.0, 0.0], "every seed's difference is zero: no interval or p-value"),
        ([0.02], "one seed: no interval"),
        ([], "no paired seeds"),
    ],
)
def test_degenerate_cases_say_what_they_are(diffs: list[float], note: str) -> None:
    t = paired_test(diffs)
    assert t.p is None and t.ci is None and t.note == note


# The independent recomputation pooled every level, disconnected ones included.
KEEP = Options(disconnected="keep")


def test_shares_of_the_gap_from_the_studys_records() -> None:
    """The study's transfer records (results/, no dataset needed): the shares of the ticket's
    lead over the re-init that the signed controls close, with the Fieller intervals an
    independent recomputation from the same records found (rounds 2-20 pooled)."""
    import json
    from pathlib import Path

    from ticketlab.analysis.verdicts import gap_shares

    path = Path(__file__).parents[2] / "results/study-trunk/export/trainings.json"
    rows = [r for r in json.loads(path.read_text()) if "magnitudes" not in (r["branch"] or "")]
    shares = {
        (g.dataset, g.setting.split()[0], g.control): g
        for g in gap_shares(compare(rows, "es_test_acc", KEEP))
    }
    sgd = shares[("cifar10", "sgd", "signed_reinit")]
    assert sgd.rounds == list(range(2, 21, 2)) and sgd.ratio.n == 5
    assert sgd.describe() == "56% [29%, 103%] (95% Fieller interval, 5 seeds)"
    assert shares[("cifar10", "sgd", "signed_constant")].describe().startswith("54% [25%, 97%]")
    assert shares[("fashion_mnist", "sgd", "signed_constant")].describe().startswith("42%")
    adam = shares[("fashion_mnist", "adam", "signed_constant")].ratio
    assert adam.ci is not None and (round(adam.ci[0], 2), round(adam.ci[1], 2)) == (-1.88, 1.27)
    assert shares[("maxgroup", "adam", "signed_reinit")].ratio.kind == "unbounded"


def test_two_controls_compared_directly_on_the_studys_records() -> None:
    """The reshuffle against the signed controls, paired by seed over the rounds both ran
    (4-20): the numbers an independent recomputation from the same records found."""
    import json
    from pathlib import Path

    from ticketlab.analysis.verdicts import compare_arms

    path = Path(__file__).parents[2] / "results/study-trunk/export/trainings.json"
    rows = json.loads(path.read_text())
    vs_reinit = {
        c.dataset: c for c in compare_arms(rows, "reshuffle", "signed_reinit", options=KEEP)
    }
    c = vs_reinit["cifar10"]
    assert c.pooled_rounds == [4, 8, 12, 16, 20] and c.first == "reshuffle"
    assert c.headline() == (
        "inconclusive with 5 seeds: +0.76 pp over rounds 4-20, 95% CI [-0.23, +1.74], p=0.1"
    )
    vs_const = {
        c.dataset: c for c in compare_arms(rows, "reshuffle", "signed_constant", options=KEEP)
    }
    assert vs_const["maxgroup"].headline().endswith("95% CI [-0.04, +0.45], p=0.083")
    transfers = [*vs_reinit.values(), *vs_const.values()]
    below = [c for c in transfers if c.dataset != "mnist" and c.pooled.p < 0.05]
    assert len(below) == 4  # 4 of the 6 transfer pairs before any correction
    assert vs_const["mnist"].headline().startswith("reshuffle lower: -0.34 pp")


def test_disconnected_levels_leave_the_pool_of_a_ticket_against_its_control() -> None:
    """The rule is fixed in code: a level where any network has an output unit without
    inputs (or a layer without weights) is flagged; the trunk's rounds 17-20 are."""
    import json
    from pathlib import Path

    path = Path(__file__).parents[2] / "results/study2-trunk/export/trainings.json"
    rows = [r for r in json.loads(path.read_text()) if r["branch"] is None]  # the trunk's
    (c,) = compare(rows, "es_test_acc", Options())
    assert c.disconnected == [17, 18, 19, 20] and c.pooled_rounds == list(range(1, 17))
    assert c.headline().endswith("(disconnected, left out of the pool: round(s) 17, 18, 19, 20)")
    (kept,) = compare(rows, "es_test_acc", KEEP)  # a comparison of methods keeps them
    assert kept.disconnected == [] and kept.pooled_rounds == list(range(1, 21))
    # A hand-made level: one control network with an output unit cut off.
    few = [
        {
            "dataset": "d",
            "setting": "s",
            "round": rnd,
            "seed": seed,
            "kind": kind,
            "control": None if kind == "ticket" else "reinit",
            "weights_remaining": 0.5,
            "es_test_acc": 0.9 + 0.01 * seed + (0.01 if kind == "ticket" else 0),
            "weights_remaining_per_layer": {"a": 0.5, "out": 0.5},
            "units_without_inputs": {"a": 3, "out": int(rnd == 2 and kind == "control")},
        }
        for rnd in (1, 2)
        for seed in range(3)
        for kind in ("ticket", "control")
    ]
    (c,) = compare(few, "es_test_acc", Options())
    assert c.disconnected == [2] and c.pooled_rounds == [1]


def test_a_reports_pooled_tests_form_one_named_family() -> None:
    """Three comparisons in one Holm family: a clear one stays significant; two with the
    same p = 0.035 (significant alone) both become 2 x 0.035 (Holm: the second smallest
    times 2, the largest no lower than it) and read as inconclusive, naming both p-values."""
    from ticketlab.analysis.verdicts import correct_pooled

    clear = [0.02, 0.021, 0.019, 0.02, 0.022]
    weak = [0.01, 0.001, 0.006, 0.004, 0.003]
    (first,) = compare(rows({0: [0.0] * 5, 1: clear, 2: clear}))
    (a,) = compare(rows({0: [0.0] * 5, 1: weak}))
    (b,) = compare(rows({0: [0.0] * 5, 1: weak}))
    alone = a.pooled.p
    assert alone == pytest.approx(0.0349, abs=1e-4) and a.headline().startswith("ticket higher")
    correct_pooled([first, a, b])
    assert a.pooled_p_adj == b.pooled_p_adj == pytest.approx(2 * alone)
    text = a.headline()
    assert (
        text.startswith("inconclusive with 5 seeds")
        and "p=0.035 (Holm over 3 pooled tests: p=0.07)" in text
    )
    assert first.headline().startswith("ticket higher") and first.family == ("Holm", 3)


def test_a_pages_per_level_tests_form_one_family_across_comparisons() -> None:
    """Two comparisons of 2 levels each: four per-level tests in one Holm family. The
    smallest p is multiplied by 4 (not by 2, as within one comparison), and the
    simultaneous interval widens to Bonferroni over the four."""
    from ticketlab.analysis.verdicts import correct_levels

    clear = [0.02, 0.021, 0.019, 0.02, 0.022]
    noise = [0.001, -0.001, 0.0, 0.002, -0.002]
    (a,) = compare(rows({0: noise, 1: clear, 2: noise}))
    (b,) = compare(rows({0: noise, 1: noise, 2: noise}))
    raw = sorted(r.test.p for c in (a, b) for r in c.rows)
    assert a.rows[1].p_adj == pytest.approx(3 * raw[0])  # within a: 3 levels
    correct_levels([a, b])
    assert a.rows[1].p_adj == pytest.approx(6 * raw[0])  # 6 tests in the family
    assert a.level_family == b.level_family == ("Holm", 6)
    assert "Holm-adjusted over the 6 per-level tests of the page" in a.levels()
    assert a.rows[1].simultaneous == pytest.approx(a.rows[1].test.interval(1 - 0.05 / 6))
    assert a.rows[1].simultaneous[0] < a.rows[1].test.interval(1 - 0.05 / 3)[0]


def test_flips_compared_across_settings_at_the_last_step_all_trainings_share() -> None:
    """Setting "long" evaluated at steps 0, 10, 20, 30, "short" at 0, 10, 20: both compare
    at step 20. The ticket's flips there, long minus short, are 0.1 in every seed."""
    from ticketlab.analysis.verdicts import at_equal_steps, compare_settings, training_id

    records, evals = [], []
    for setting, last in (("long", 30), ("short", 20)):
        for seed in range(3):
            for rnd in (0, 1):
                r = {"round": rnd, "seed": seed, "kind": "ticket", "control": None}
                r |= {"dataset": "d", "setting": setting, "weights_remaining": 0.5**rnd}
                records.append(r)
                for step in range(0, last + 1, 10):
                    flip = step / 100 + (0.1 if setting == "long" else 0) + 0.01 * (seed == 2)
                    evals.append({"training_id": training_id(r), "step": step, "sign_flip": flip})
    stepped, at = at_equal_steps(records, evals)
    assert at == {"d": 20}
    assert sorted(r["sign_flip_step"] for r in stepped if r["setting"] == "short") == pytest.approx(
        [0.2] * 4 + [0.21] * 2
    )
    (c,) = compare_settings(stepped, "long", "short", "sign_flip_step")
    assert c.first == "long" and c.pooled.mean == pytest.approx(0.1)
    assert c.pooled.note  # every seed's difference is the same: said, not p = 0


def test_welch_interval_by_hand() -> None:
    """a = 1, 2, 3 and b = 4, 6, 8: difference -4, variances 1 and 4, standard error
    sqrt(5/3), Welch-Satterthwaite df (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = 50/17."""
    t = welch([1, 2, 3], [4, 6, 8])
    se = math.sqrt(5 / 3)
    half = scipy_t.ppf(0.975, 50 / 17) * se
    assert t.mean == -4 and t.sd == pytest.approx(se)
    assert t.ci == pytest.approx((-4 - half, -4 + half))
    assert t.p == pytest.approx(2 * scipy_t.sf(4 / se, 50 / 17))
    assert welch([1.0], [2.0, 3.0]).ci is None
