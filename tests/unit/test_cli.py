"""The command line's messages and help, where no dataset is needed."""

import argparse
import warnings
from pathlib import Path
from typing import Any

import pytest

from ticketlab.cli import accuracy_table, build_parser, main, parse_rounds
from ticketlab.errors import TicketlabError, TicketlabWarning, warn
from ticketlab.progress import describe


def _parsers(parser: argparse.ArgumentParser, name: str = "ticketlab"):  # type: ignore[no-untyped-def]
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_command_and_argument_has_a_description() -> None:
    for name, parser in _parsers(build_parser()):
        assert parser.description, f"{name} has no description"
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                assert action.help, f"{name} {action.dest} has no help"


def test_set_with_a_space_says_what_it_expects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--preset", "quick", "--set", "train.lr", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "--set takes KEY=VALUE as one word" in err
    assert "did you mean --set train.lr=0.01?" in err
    assert "does not exist" not in err


def test_rounds_syntax_names_the_option() -> None:
    assert parse_rounds("0,2,4", 20) == [0, 2, 4]
    assert parse_rounds("3-5", 20) == [3, 4, 5]
    assert parse_rounds("0-20:2", 20) == list(range(0, 21, 2))
    with pytest.raises(TicketlabError, match=r"--rounds '0-21': rounds must lie between 0 and 20"):
        parse_rounds("0-21", 20)
    with pytest.raises(TicketlabError, match="expected rounds like"):
        parse_rounds("a-b", 20)
    with pytest.raises(TicketlabError, match=r"^--pool-rounds '5-15': rounds must lie between"):
        parse_rounds("5-15", 8, "--pool-rounds")


def test_a_path_that_does_not_exist_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(tmp_path / "nope")]) == 2
    assert f"{tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    assert main(["show", str(tmp_path)]) == 2
    assert "is not a ticketlab run directory" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("ticketlab ")


def test_progress_pairs_each_member_with_its_accuracy() -> None:
    labels = [f"mnist:ticket/s{i}" for i in range(5)]
    assert describe(labels, [0.981, 0.5, 0.25, 0.1, 0.1]) == (
        "val acc: mnist:ticket/s0 98.1%, mnist:ticket/s1 50.0%, mnist:ticket/s2 25.0% (+2 more)"
    )
    assert describe(labels[:2], []) == "mnist:ticket/s0, mnist:ticket/s1"


def test_a_warning_points_at_the_caller_outside_the_package() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("something to know")
    assert caught[0].category is TicketlabWarning
    assert caught[0].filename == __file__


def test_a_sweep_checks_its_data_before_ray_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("preset: quick\ngrid: {train.lr: [0.001, 0.002]}\nseeds: [0]\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["sweep", "run", str(sweep), "--out", str(tmp_path / "out"), "--data-dir", str(empty)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("ticketlab: error:") == 1 and "not found in --data-dir" in err, err
    assert not (tmp_path / "out" / "trials").exists() or not any(
        (tmp_path / "out" / "trials").iterdir()
    )


def _row(
    source: str | None, control: str | None, rnd: int, acc: float, seed: int = 0
) -> dict[str, Any]:
    return {
        "dataset": "mnist",
        "setting": "adam lr=0.0012, 1 epochs",
        "source": source,
        "control": control,
        "kind": "control" if control else "ticket",
        "round": rnd,
        "seed": seed,
        "es_test_acc": acc,
        "weights_remaining": 0.5**rnd,
        "weights_remaining_per_layer": {"fc1.weight": 0.5**rnd, "fc2.weight": 0.5**rnd},
        "units_without_inputs": {"fc1.weight": 3 if source == "snip" and rnd == 1 else 0},
        "supermask_acc": None,
    }


def test_show_gives_each_mask_source_its_own_table() -> None:
    rows = [
        _row(None, None, 0, 0.90),
        _row(None, None, 1, 0.96, seed=0),
        _row(None, None, 1, 0.94, seed=1),
        _row(None, "reinit", 1, 0.93),
        _row("snip", None, 1, 0.91),
        _row("snip", "random_mask", 1, 0.89),
    ]
    lines = accuracy_table(rows, "mnist").splitlines()
    assert lines == [
        "",
        "mnist / adam lr=0.0012, 1 epoch: test accuracy at early stopping, mean over seeds",
        "round   weights    ticket    reinit  units without inputs (ticket)",
        "    0   100.00%    90.00%         -  ",
        "    1    50.00%    95.00%    93.00%  ",
        "",
        "mnist / adam lr=0.0012, 1 epoch / mask source snip: test accuracy at early stopping, "
        "mean over seeds",
        "round   weights    ticket random_mask  units without inputs (ticket)",
        "    1    50.00%    91.00%      89.00%  fc1.weight 3",
    ]
