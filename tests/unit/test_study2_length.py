"""The training-length tables of scripts/study2_answers.py on a hand-computed case."""

import pytest

from tests.helpers import load_script

sa = load_script("study2_answers")

ADAM3, ADAM40 = sa.LENGTHS["Adam lr 1.2e-3"]
SGD3, SGD40 = sa.LENGTHS["SGD lr 1e-2"]


def records(leads: dict[str, list[float]], dataset: str = "fashion_mnist") -> list[dict]:
    """Three seeds at rounds 0 and 4: every control at 0.80, the ticket at 0.80 plus the
    seed's lead in its setting (the same at both rounds); sign flips 0.1 for every arm."""
    out = []
    for setting, seed_leads in leads.items():
        for rnd in (0, 4):
            for seed, lead in enumerate(seed_leads):
                base = {
                    "round": rnd,
                    "seed": seed,
                    "dataset": dataset,
                    "setting": setting,
                    "source": None,
                    "weights_remaining": 1.0 if rnd == 0 else 0.4,
                    "sign_flip_final": 0.1,
                    "steps": 100,
                    # The 40-epoch trainings' lowest validation loss lands in the last fifth.
                    "es_step": 90 if "40" in setting else 50,
                }
                out.append(base | {"kind": "ticket", "control": None, "es_test_acc": 0.8 + lead})
                for control in sa.LENGTH_ARMS[1:]:
                    out.append(base | {"kind": "control", "control": control, "es_test_acc": 0.8})
    return out


def test_the_lead_left_after_40_epochs_pairs_the_two_lengths_by_seed() -> None:
    # SGD: leads 0.10, 0.12, 0.14 at 3 epochs, 0.01, 0.02, 0.03 at 40: changes -0.09,
    # -0.10, -0.11 (mean -10 pp); share left 0.02 / 0.12 = 1/6.
    rows = records(
        {
            ADAM3: [0.004, 0.005, 0.006],
            ADAM40: [0.0, 0.002, 0.001],
            SGD3: [0.10, 0.12, 0.14],
            SGD40: [0.01, 0.02, 0.03],
        }
    )
    assert sa.length_rows(rows, "fashion_mnist") == rows
    got = sa.length_tables({"fashion_mnist": rows})
    change = {t[1]: t[4] for t in got.tests if t[2].startswith("lead over reinit")}
    assert change["SGD lr 1e-2"].mean == pytest.approx(-0.10)
    # sd 0.01 over 3 seeds: half-width t(0.975, 2) x 0.01 / sqrt(3) = 0.024841.
    lo, hi = change["SGD lr 1e-2"].ci
    assert (lo, hi) == pytest.approx((-0.10 - 0.024841, -0.10 + 0.024841), abs=1e-5)
    share = {label: r for _, label, _, r in got.shares}
    assert share["SGD lr 1e-2"].estimate == pytest.approx(1 / 6)
    assert share["SGD lr 1e-2"].ci[0] < 1 / 6 < share["SGD lr 1e-2"].ci[1]
    ends = {setting: (accs, late) for _, setting, accs, late in got.ends}
    assert ends[SGD3][0]["ticket"] == pytest.approx(0.92)
    assert ends[SGD3][0]["reinit"] == pytest.approx(0.80)
    assert (ends[SGD3][1], ends[SGD40][1]) == (0.0, 1.0)
    # 12 ticket-minus-control tests per metric (4 settings x 3 controls), 2 changes; sign
    # flips equal everywhere have no spread, hence no p-value, and stay out of the family.
    assert len(got.tests) == 26
    assert sum(p is not None for p in got.p_adj) == 14


def test_a_dataset_enters_only_once_every_training_is_recorded() -> None:
    rows = records({ADAM3: [0.0] * 3, ADAM40: [0.0] * 3, SGD3: [0.0] * 3, SGD40: [0.0] * 3})
    assert sa.length_rows(rows, "cifar10") is None
    partial = [r for r in rows if not (r["setting"] == SGD40 and r["seed"] == 2)]
    assert sa.length_rows(partial + records({ADAM3: [0.0]}, "mnist"), "fashion_mnist") is None
