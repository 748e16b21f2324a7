"""The bf16-against-fp32 rule of scripts/precision_effect.py on a hand-computed case."""

import math

import pytest

from tests.helpers import load_script

pe = load_script("precision_effect")


def rows(tickets: dict[int, list[float]], reinit: float) -> list[dict]:
    out = []
    for rnd, accs in tickets.items():
        for seed, acc in enumerate(accs):
            base = {"round": rnd, "seed": seed, "dataset": "mnist", "setting": "adam", "source": ""}
            out.append(base | {"kind": "ticket", "control": "", "es_test_acc": acc})
            out.append(base | {"kind": "control", "control": "reinit", "es_test_acc": reinit})
            # Another dataset's records are not the study's: left out.
            out.append(base | {"kind": "ticket", "dataset": "cifar10", "es_test_acc": 0.1})
    return out


def test_the_effect_pairs_gaps_by_seed_and_the_rule_needs_every_interval_inside() -> None:
    fp32 = rows({1: [0.90, 0.91, 0.92], 2: [0.90, 0.90, 0.90]}, 0.88)
    # Round 1: gaps 2, 3, 4 pp (fp32) and 2.5, 3, 4.5 pp (bf16): differences 0.5, 0, 0.5.
    # Round 2: every difference 0.1 pp (no spread: no interval, so not within the bound).
    bf16 = rows({1: [0.905, 0.91, 0.925], 2: [0.901, 0.901, 0.901]}, 0.88)
    level1, level2, pooled = pe.effects(fp32, bf16)
    assert (level1.level, level2.level, pooled.level) == (1, 2, None)
    assert level1.test.mean == pytest.approx(1 / 3)
    # sd sqrt(1/12); half-width t(0.975, 2) x sd / sqrt(3) = 4.3027 x 0.16667 = 0.7171.
    half = 4.302653 * math.sqrt(1 / 12) / math.sqrt(3)
    assert level1.test.ci == pytest.approx((1 / 3 - half, 1 / 3 + half), abs=1e-5)
    assert not level1.within(1.0) and level1.within(1.1)  # upper end 1.05
    assert level2.test.ci is None and not level2.within(1.0)
    # Pooled: each seed's mean over both levels, 0.3, 0.05, 0.3.
    assert pooled.test.mean == pytest.approx((0.3 + 0.05 + 0.3) / 3)
    text = pe.markdown([level1, level2, pooled], "reinit")
    assert "bf16 cannot be trusted" in text and "| 1 | 3 | +0.33 | [-0.38, +1.05] | no |" in text


def test_a_level_range_limits_the_rule_and_the_pool() -> None:
    fp32 = rows({1: [0.90, 0.91, 0.92], 2: [0.90, 0.90, 0.90], 3: [0.9, 0.9, 0.9]}, 0.88)
    bf16 = rows({1: [0.905, 0.91, 0.925], 2: [0.901, 0.903, 0.902], 3: [0.5, 0.9, 0.7]}, 0.88)
    level1, level2, pooled = pe.effects(fp32, bf16, levels=range(1, 3))
    assert (level1.level, level2.level) == (1, 2)  # level 3 (-40, 0, -20 pp) left out
    # Pooled over levels 1-2 only: per seed (0.5 + 0.1) / 2, (0 + 0.3) / 2, (0.5 + 0.2) / 2.
    assert pooled.test.mean == pytest.approx((0.30 + 0.15 + 0.35) / 3)
    text = pe.markdown([level1, level2, pooled], "reinit", ("fp32 at A", "fp32 at B"))
    assert text.startswith("fp32 at B minus fp32 at A in the ticket-minus-reinit gap")
