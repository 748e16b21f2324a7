"""Statistics against hand-computed cases, and the wording of verdicts."""

import math

import pytest

from ticketlab.analysis.stats import benjamini_hochberg, holm, paired_test, pooled_test, t_quantile
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
