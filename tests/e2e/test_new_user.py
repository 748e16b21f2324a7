"""What a new user hit: a run that forgets its data folder, records that leave out
branches, a refused config that locks its directory, and the messages around them."""

import csv
import json
import warnings
from pathlib import Path

import pytest

import ticketlab
from tests.conftest import DATA_DIR
from tests.helpers import TINY
from ticketlab.cli import main
from ticketlab.errors import TicketlabWarning
from ticketlab.experiments.lottery import RoundProgress

SMALL = [*TINY[1::2], "prune.rounds=1"]


class Stop(KeyboardInterrupt):
    pass


@pytest.mark.slow
def test_resume_and_branch_find_the_data_folder_the_run_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TICKETLAB_DATA")  # the data is only where --data-dir said
    out = tmp_path / "run"
    cfg = ticketlab.load_config(preset_name="seed", overrides=SMALL, seeds=[0])

    def stop_in_round_1(p: RoundProgress) -> None:
        if p.round == 1:
            raise Stop

    with pytest.raises(Stop):
        ticketlab.run(cfg, out, data_dir=DATA_DIR, on_progress=stop_in_round_1)
    assert main(["resume", str(out), "--no-download", "--quiet"]) == 0
    assert ticketlab.RunDir.open(out).status()["status"] == "complete"
    bd = ticketlab.api.branch(out, ["experiment.controls=[reinit, signed_reinit]"], download=False)
    assert bd.status()["status"] == "complete"
    # An explicit folder still overrides the recorded one.
    args = ["branch", str(out), "--set", "experiment.controls=[reshuffle]", "--quiet"]
    assert main([*args, "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_summaries_hold_the_branches_and_the_exports_join(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = ticketlab.load_config(preset_name="seed", overrides=SMALL, seeds=[0])
    run = ticketlab.run(cfg, out, make_figures=False, progress=False)
    ticketlab.api.branch(out, ["experiment.controls=[reinit, signed_reinit]"], progress=False)
    rows = run.summaries()
    assert len(rows) == 2 * 3  # 2 levels x (ticket, reinit, signed_reinit)
    assert {r["branch"] for r in rows if r["control"] == "signed_reinit"} != {None}
    paths = ticketlab.api.export(out)
    trainings = list(csv.DictReader(paths[0].open()))
    evals = list(csv.DictReader(paths[1].open()))
    ids = {t["training_id"] for t in trainings}
    assert len(ids) == len(trainings) == 6
    assert {e["training_id"] for e in evals} == ids
    assert {r["training_id"] for r in json.loads(paths[2].read_text())} == ids


@pytest.mark.slow
def test_a_refused_config_leaves_a_directory_the_corrected_command_can_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "run")
    args = ["run", "--preset", "seed", *TINY, "--set", "prune.rounds=1", "--out", out, "--quiet"]
    assert main([*args, "--set", "model.name=no.such:model"]) == 2
    assert main([*args, "--set", "train.steps=10", "--set", "train.milestones=[3]"]) == 2
    assert "at or past the end of training on mnist" in capsys.readouterr().err
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0  # finished: says so
    assert "nothing to do: the run is complete (4 trainings)" in capsys.readouterr().err


@pytest.mark.slow
def test_a_warning_through_the_api_names_the_callers_line(tmp_path: Path) -> None:
    cfg = ticketlab.load_config(
        preset_name="seed", overrides=[*SMALL, "prune.p_final=0.001"], seeds=[0]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ticketlab.run(cfg, tmp_path / "run", make_figures=False, progress=False)
    ours = [w for w in caught if w.category is TicketlabWarning]
    assert any("units are likely to lose every input" in str(w.message) for w in ours)
    assert {w.filename for w in ours} == {__file__}
