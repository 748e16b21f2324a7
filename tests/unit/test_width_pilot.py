"""The width pilot's rule: 5 epochs stand only if no score-trained cell gains 1 pp by 20."""

import pytest

from tests.helpers import load_script

wp = load_script("width_pilot")


def rows(accs: dict[str, list[float]]) -> list[dict]:
    return [
        {"cell": cell, "kind": cell.split("/")[0], "seed": seed, "test_acc": acc}
        for cell, values in accs.items()
        for seed, acc in enumerate(values)
    ]


def test_the_rule_takes_the_largest_mean_gain_over_the_seeds_both_runs_have() -> None:
    short = rows({"subnetwork/2/1/a": [0.90, 0.92], "fit/2/1/a": [0.50, 0.60, 0.70]})
    # Gains: subnetwork 0.91 -> 0.915 on seeds 0-1 (the pilot's seed 2 has no partner),
    # fit 0.60 -> 0.605; the random-mask cell is not score-trained and is ignored.
    long = rows(
        {
            "subnetwork/2/1/a": [0.905, 0.925, 0.99],
            "fit/2/1/a": [0.51, 0.60, 0.705],
            "random_trained/2/1/a": [0.5, 0.5, 0.5],
        }
    )
    got = wp.gains(short, long)
    assert [c for c, *_ in got] == ["fit/2/1/a", "subnetwork/2/1/a"]
    assert got[1][1:] == pytest.approx((0.91, 0.915))
    assert wp.verdict(got).startswith(
        "5 epochs stand: the largest gain from 5 to 20 epochs is +0.50"
    )
    long[0]["test_acc"] = 0.915  # the subnetwork: 0.91 -> 0.92, a gain of 1 pp, not less
    assert wp.verdict(wp.gains(short, long)).startswith("5 epochs do not stand")
    # Without the fit's short rows: the gain of 1 pp still decides; below it, the rule waits.
    assert wp.verdict(wp.gains(short[:2], long)).startswith("5 epochs do not stand")
    long[0]["test_acc"] = 0.905
    assert wp.verdict(wp.gains(short[:2], long)).startswith("waiting")
