"""The report's table of what finding the masks cost, on hand-made records."""

from ticketlab.analysis.report import _search_blocks


def ticket(dataset: str, frozen: float | None, steps: int, branch: str | None = None) -> dict:
    return {
        "kind": "ticket",
        "source": "edgepopup",
        "round": 1,
        "dataset": dataset,
        "branch": branch,
        "steps": steps,
        "search_steps": 100,
        "search_epochs": 10,
        "search_examples": 1000,
        "mask_steps": 100,
        "mask_seconds": 2.0,
        "frozen_test_acc": frozen,
    }


def test_the_cost_table_reads_the_runs_own_tickets_not_a_branchs() -> None:
    """A branch's tickets on another dataset carry the search's cost but not its frozen
    accuracy, and train another schedule: the table keeps to the main dataset's."""
    rows = [
        ticket("mnist", 0.8, 100),
        ticket("mnist", 0.9, 100),
        ticket("fashion_mnist", None, 200, "branches/b-1"),
        ticket("fashion_mnist", None, 200, "branches/b-1"),
    ]
    ((_, title), _, (_, (_, table))) = _search_blocks(rows, "mnist", "")
    assert title == "Steps spent finding the masks"
    (row,) = table
    assert row[:4] == ["edgepopup", "1", "10", "100 of 100"]
    assert row[-1] == "85.00"  # the mean frozen accuracy of the two seeds, in %


def test_early_bird_searches_show_where_their_rule_stopped() -> None:
    """The largest mask distance of the last window, mean over seeds: 0.11 for seeds that
    ran the round out at 0.10 and 0.12; blank for a source without the rule."""
    eb = [
        ticket("mnist", None, 100) | {"source": "earlybird", "search_distance": d}
        for d in (0.10, 0.12)
    ]
    prac = [ticket("mnist", None, 100) | {"source": "prac", "search_distance": None}]
    (_, _, (_, (header, table))) = _search_blocks(eb + prac, "mnist", "")
    col = header.index("early-bird d")
    assert [(row[0], row[col]) for row in table] == [("earlybird", "0.110"), ("prac", "")]
