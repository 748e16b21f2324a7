"""The scale-against-values tables of scripts/study2_answers.py on a hand-computed case."""

import pytest

from tests.helpers import load_script

sa = load_script("study2_answers")

SGD3, SGD40 = sa.LENGTHS["SGD lr 1e-2"]
# Each arm's accuracy above re-init's 0.80, per seed (the same at both rounds and lengths).
ABOVE = {
    "reinit": (0.0, 0.0, 0.0),
    "scaled_reinit": (0.02, 0.03, 0.04),
    "reshuffle": (0.05, 0.06, 0.07),
    "signed_reshuffle": (0.08, 0.09, 0.10),
    "ticket": (0.10, 0.12, 0.14),
    "signed_constant": (0.0, 0.01, 0.02),
}


def records(dataset: str = "cifar10") -> list[dict]:
    out = []
    for setting in (SGD3, SGD40):
        for rnd in (0, 4):
            for seed in range(3):
                for who, above in ABOVE.items():
                    out.append(
                        {
                            "round": rnd,
                            "seed": seed,
                            "dataset": dataset,
                            "setting": setting,
                            "source": None,
                            "weights_remaining": 1.0 if rnd == 0 else 0.4,
                            "kind": "ticket" if who == "ticket" else "control",
                            "control": None if who == "ticket" else who,
                            "es_test_acc": 0.8 + above[seed],
                        }
                    )
    return out


def test_the_steps_from_reinit_to_the_ticket_add_up_to_its_lead() -> None:
    rows = records()
    assert sa.scale_rows(rows, "cifar10") == rows
    got = sa.scale_tables({"cifar10": rows})
    tests = {(setting, what): c.pooled for _, setting, what, c in got.tests}
    # 5 ticket-minus-control tests and 3 steps between controls, per length.
    assert len(got.tests) == 16
    steps = [
        tests[(SGD40, f"ticket - {b}" if a == "ticket" else f"{a} - {b}")]
        for a, b, _ in sa.SCALE_STEPS
    ]
    assert [t.mean for t in steps] == pytest.approx([0.03, 0.03, 0.03, 0.03])
    assert sum(t.mean for t in steps) == pytest.approx(tests[(SGD40, "ticket - reinit")].mean)
    # scale: 0.02, 0.03, 0.04 (sd 0.01): half-width t(0.975, 2) x 0.01 / sqrt(3) = 0.024841.
    assert steps[0].ci == pytest.approx((0.03 - 0.024841, 0.03 + 0.024841), abs=1e-5)
    assert steps[1].ci is None  # 0.03 for every seed: no spread, no interval, no p
    assert sum(p is not None for p in got.p_adj) == 12
    share = {(g.setting, g.control): g.ratio.estimate for g in got.shares}
    assert share[(SGD3, "scaled_reinit")] == pytest.approx(0.03 / 0.12)
    assert share[(SGD3, "reshuffle")] == pytest.approx(0.5)
    assert share[(SGD40, "signed_reshuffle")] == pytest.approx(0.75)
    assert share[(SGD40, "signed_constant")] == pytest.approx(0.01 / 0.12)


def test_a_dataset_enters_only_once_every_arm_is_recorded() -> None:
    rows = records()
    missing = [r for r in rows if not (r["control"] == "signed_constant" and r["seed"] == 1)]
    assert sa.scale_rows(missing, "cifar10") is None
    assert sa.scale_rows(rows, "maxgroup") is None


def test_two_record_sets_of_one_trunk_give_each_training_once() -> None:
    """A trunk's records from its first run and its re-run: a training in both counts once
    (timings and the branch that trained it may differ); one whose numbers differ means two
    trunks, and is refused."""
    first = [
        {"training_id": "a", "es_test_acc": 0.9, "wall_time_s": 10.0, "branch": "b1"},
        {"training_id": "b", "es_test_acc": 0.8, "wall_time_s": 11.0},
    ]
    rerun = [  # "a" trained again, by another branch than the first set's
        {"training_id": "a", "es_test_acc": 0.9, "wall_time_s": 12.5, "branch": "b2"},
        {"training_id": "c", "es_test_acc": 0.7, "wall_time_s": 9.0},
    ]
    both = sa.union(first, rerun)
    assert [r["training_id"] for r in both] == ["a", "b", "c"]
    assert both[0]["wall_time_s"] == 10.0  # the first set's record
    with pytest.raises(ValueError, match=r"training a differs .* in es_test_acc"):
        sa.union(first, [{"training_id": "a", "es_test_acc": 0.91, "wall_time_s": 10.0}])
