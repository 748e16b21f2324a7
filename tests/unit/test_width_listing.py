"""`ticketlab ls` lists a width-test folder: the rows its plan asks for and how many it has."""

import json
import os
from pathlib import Path

import pytest

from ticketlab.api import list_runs
from ticketlab.cli import main
from ticketlab.store.files import exclusive


def test_a_width_folder_is_listed_with_its_rows_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "width"
    folder.mkdir()
    plan = {
        "seeds": [0, 1],
        "widths": [1],
        "deep_widths": [],
        "methods": ["edgepopup"],
        "keeps": [0.5],
        "inits": ["kaiming_normal"],
        "fit": False,
    }
    (folder / "width-run.json").write_text(json.dumps({"plan": plan, "invocations": []}))
    # The plan's cells: the target, the untrained and trained random masks, edge-popup at
    # keep 0.5 and at the matched keep: 5 cells x 2 seeds = 10 rows.
    rows = [
        {"cell": "target/0/0///0.0", "seed": 0, "kind": "target", "test_acc": 0.97},
        {"cell": "target/0/0///0.0", "seed": 1, "kind": "target", "test_acc": 0.98},
        {
            "cell": "random_untrained/2/1/kaiming_normal//0.5",
            "seed": 0,
            "kind": "x",
            "test_acc": 0.1,
        },
        # a cell of another plan (width 2): kept in the folder, not counted for this plan
        {
            "cell": "random_untrained/2/2/kaiming_normal//0.5",
            "seed": 0,
            "kind": "x",
            "test_acc": 0.1,
        },
    ]
    (folder / "width.json").write_text(json.dumps(rows))
    (listed,) = list_runs(tmp_path)
    assert listed["status"] == "width test, incomplete"
    assert (listed["trainings_done"], listed["trainings_total"]) == (3, 10)
    assert listed["dense_test_acc"] == pytest.approx(0.975)
    assert main(["ls", str(tmp_path)]) == 0
    assert "width test, incomplete (3/10)" in capsys.readouterr().out
    # While a command writes into the folder (it holds the lock): listed as running, and a
    # second command into it is refused before it trains anything.
    with exclusive(folder):
        assert list_runs(tmp_path)[0]["status"] == "width test, running"
        assert main(["width", "--out", str(folder), "--widths", "1", "--quiet"]) != 0
        assert f"{folder} is being written by process {os.getpid()}" in capsys.readouterr().err
    assert list_runs(tmp_path)[0]["status"] == "width test, incomplete"


def test_show_prints_a_width_folders_page_or_its_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "width-run.json").write_text(json.dumps({"plan": {}, "invocations": []}))
    assert main(["show", str(tmp_path)]) == 0
    assert "no rows yet" in capsys.readouterr().out
    rows = [{"cell": "target/0/0///0.0", "seed": 0, "test_acc": 0.97}]
    (tmp_path / "width.json").write_text(json.dumps(rows))
    (tmp_path / "width.md").write_text("# The page\n")
    assert main(["show", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "# The page\n\n"
    assert main(["show", str(tmp_path), "--json"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == rows
