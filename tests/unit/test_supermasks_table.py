"""The learned-against-one-shot table of scripts/supermasks_table.py, by hand."""

from pathlib import Path

from tests.helpers import load_script

table = load_script("supermasks_table")


def test_learned_masks_are_set_against_large_final_paired_by_seed() -> None:
    def row(criterion: str, seed: int, acc: float, learned: bool = False) -> dict:
        return {
            "criterion": criterion,
            "seed": seed,
            "start": "init",
            "density": 0.5,
            "test_acc": acc,
            "weights_remaining": 0.5,
            "learned": learned,
        }

    rows = [row("large_final", s, a) for s, a in enumerate([0.2, 0.3, 0.4])]
    rows += [row("edgepopup", s, 0.9, True) for s in range(3)]
    rows += [row("bernoulli", s, 0.5, True) for s in range(3)]  # no fraction: not compared
    lines = table.comparisons(rows)
    # Differences 70, 60, 50 pp: mean 60, sd 10, half-width t(0.975, 2) x 10 / sqrt(3) = 24.8.
    assert "Holm over these 1 comparisons" in lines[0]
    assert lines[3].startswith("| edgepopup | init | 50% | 3 | +60.0 | [+35.2, +84.8] |")
    assert len(lines) == 4
    assert table.comparisons([r for r in rows if not r["learned"]]) == []


def test_learned_masks_against_the_imp_ticket_at_the_nearest_level(tmp_path: Path) -> None:
    fields = ["round", "seed", "kind", "source", "branch", "weights_remaining"]
    fields += ["supermask_acc", "es_test_acc"]
    lines = [",".join(fields)]
    for seed, (untrained, trained) in enumerate([(0.2, 0.97), (0.3, 0.98), (0.4, 0.96)]):
        lines.append(f"3,{seed},ticket,,,0.512,{untrained},{trained}")
        lines.append(f"4,{seed},ticket,,,0.41,0.5,0.5")  # a farther level: not used
        lines.append(f"3,{seed},control,,,0.512,0.1,0.1")  # not IMP's ticket
    (tmp_path / "trainings.csv").write_text("\n".join(lines) + "\n")
    rows = [
        {
            "criterion": "edgepopup",
            "density": 0.5,
            "start": "init",
            "seed": s,
            "test_acc": 0.9,
            "learned": True,
        }
        for s in range(3)
    ]
    out = table.against_imp(rows, tmp_path)
    # Untrained: 90 minus 20, 30, 40 = 70, 60, 50 (mean 60); trained: -7, -8, -6 (mean -7).
    assert out[3].startswith("| edgepopup | 50% | 3 | 51.2% | untrained | +60.0 | [+35.2, +84.8] |")
    assert out[4].startswith("| edgepopup | 50% | 3 | 51.2% | trained | -7.0 |")
