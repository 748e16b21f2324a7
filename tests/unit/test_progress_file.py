"""The progress file a running run writes for ``show`` and ``ls`` in other processes."""

from pathlib import Path

from ticketlab.api import _reporting
from ticketlab.config import preset
from ticketlab.experiments.lottery import RoundProgress
from ticketlab.store.rundir import RunDir
from ticketlab.train.members import Progress


def test_eta_after_a_resume_is_from_this_invocations_pace(tmp_path: Path) -> None:
    store = RunDir.create(tmp_path / "run", preset("quick"))
    now = [50.0]
    report = _reporting(store, None, clock=lambda: now[0])

    def at(t: float, done: int) -> dict[str, float]:
        now[0] = t
        report(RoundProgress(1, 8, ["mnist:ticket/s0"], Progress(done, 1000, 1), done, 1000))
        progress = store.progress()
        assert progress is not None
        return progress

    # The first report of a resumed cohort: its checkpoint restored 600 of the 1,000 steps,
    # which took no time in this invocation, so there is no pace yet.
    assert at(50.0, 600)["eta_s"] is None
    # 100 steps in 40 s: the 300 left take 120 s (not 40 / 700 * 300 = 17 s).
    assert at(90.0, 700) | {"updated_at": ""} == {
        "round": 1,
        "rounds": 8,
        "work_done": 700,
        "work_total": 1000,
        "elapsed_s": 40.0,
        "eta_s": 120.0,
        "updated_at": "",
    }
