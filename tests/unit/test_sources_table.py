"""The mask-source results table: means over seeds per source, arm and round."""

from tests.helpers import load_script

st = load_script("sources_table")


def row(
    source: str, control: str, rnd: int, weights: float, acc: float, **kw: str
) -> dict[str, str]:
    return {
        "source": source,
        "control": control,
        "round": str(rnd),
        "weights_remaining": str(weights),
        "es_test_acc": str(acc),
        "dataset": kw.get("dataset", "mnist"),
        "setting": "adam",
        "branch": kw.get("branch", ""),
    }


def test_imp_first_then_each_source_with_its_checks_and_gaps_left_empty() -> None:
    rows = [
        row("", "", 1, 0.5, 0.96),
        row("", "", 1, 0.5, 0.98),
        row("", "reinit", 1, 0.5, 0.95),
        row("", "", 2, 0.25, 0.97),
        row("snip", "", 1, 0.5, 0.90),
        row("snip", "", 2, 0.25, 0.80),
        row("snip", "random_mask", 2, 0.25, 0.70),
        row("", "", 1, 0.5, 0.10, dataset="cifar10"),  # another dataset: not in the table
        row("", "", 1, 0.5, 0.20, branch="branches/b"),  # a branch: not in the table
    ]
    assert st.table(rows).splitlines() == [
        "| source | arm | 50% | 25% |",
        "| --- | --- | ---: | ---: |",
        "| IMP | ticket | 97.00 | 97.00 |",
        "| IMP | reinit | 95.00 |  |",
        "| snip | ticket | 90.00 | 80.00 |",
        "| snip | random_mask |  | 70.00 |",
    ]
    assert st.table(rows, [2]).splitlines()[2] == "| IMP | ticket | 97.00 |"
