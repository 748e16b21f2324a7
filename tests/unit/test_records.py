"""Two records of one training compared field by field (a re-run against its first run)."""

from ticketlab.experiments.records import differing_fields


def test_only_a_trainings_own_results_are_compared() -> None:
    """Timings, cohort size, storage time and the branch that trained it may differ between
    two runs of one training, and a field only one record holds (an export from before the
    field existed) is not compared; any other field with another value is named, sorted."""
    first = {
        "training_id": "a",
        "es_test_acc": 0.9,
        "final_test_acc": 0.8,
        "wall_time_s": 10.0,
        "cohort_size": 4,
        "finished_at": "t1",
        "branch": "b1",
    }
    again = {
        "training_id": "a",
        "es_test_acc": 0.9,
        "final_test_acc": 0.8,
        "wall_time_s": 12.5,
        "cohort_size": 1,
        "finished_at": "t2",
        "branch": "b2",
        "search_distance": "",
    }
    assert differing_fields(first, again) == []
    other = {**again, "final_test_acc": 0.81, "es_test_acc": 0.91}
    assert differing_fields(first, other) == ["es_test_acc", "final_test_acc"]
    assert differing_fields(other, first) == ["es_test_acc", "final_test_acc"]
