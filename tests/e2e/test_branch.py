"""Branches: more controls and transfers on a finished run's tickets, never touching the
run's own records; and runs that gain seeds."""

import json
import re
from pathlib import Path

import pytest

import ticketlab
from tests.helpers import TINY
from ticketlab.api import branch
from ticketlab.cli import main
from ticketlab.experiments.lottery import RoundProgress
from ticketlab.store.rundir import RunDir

BRANCH = [
    "transfer.datasets=[fashion_mnist]",
    "experiment.controls=[reinit, signed_reinit]",
]


def snapshot(run: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and "branches" not in p.parts}


class Stop(KeyboardInterrupt):
    pass


@pytest.mark.slow
def test_a_branch_trains_beside_the_run_and_never_changes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0, 1])
    own = ticketlab.run(cfg, out, make_figures=False).summaries()
    before = snapshot(out)
    args = ["branch", str(out), *(a for b in BRANCH for a in ("--set", b)), "--rounds", "0,2"]
    assert main([*args, "--quiet"]) == 0
    assert snapshot(out) == before  # the run's own files, byte for byte

    (bdir,) = (out / "branches").iterdir()
    assert bdir.name.startswith("branch-")
    rows = RunDir.open(bdir).summaries()
    # rounds 0 and 2 x seeds 0, 1 x (MNIST signed_reinit; FashionMNIST ticket, reinit,
    # signed_reinit): the MNIST ticket and reinit are the run's.
    assert len(rows) == 2 * 2 * 4
    assert {(r["dataset"], r["control"]) for r in rows} == {
        ("mnist", "signed_reinit"),
        ("fashion_mnist", None),
        ("fashion_mnist", "reinit"),
        ("fashion_mnist", "signed_reinit"),
    }
    assert {r["round"] for r in rows} == {0, 2}
    # Paired with the run: the same data order as the run's ticket of that round and seed.
    order = {(r["round"], r["seed"]): r["data_seed"] for r in own}
    assert all(r["data_seed"] == order[(r["round"], r["seed"])] for r in rows)
    # Masks came from the run: the branch's tickets have the run's weights remaining.
    left = {(r["round"], r["seed"]): r["weights_remaining"] for r in own}
    assert all(r["weights_remaining"] == left[(r["round"], r["seed"])] for r in rows)

    capsys.readouterr()
    assert main(["ls", str(tmp_path)]) == 0
    assert f"branch {bdir.name}" in capsys.readouterr().out.replace("  ", " ")
    assert main(["show", str(out), "--json"]) == 0
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(shown) == len(own) + len(rows)
    assert {r["branch"] for r in shown} == {None, f"branches/{bdir.name}"}
    assert main(["report", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "| FashionMNIST |" in md and "signed_reinit" in md
    assert main(["export", str(out)]) == 0
    assert len((out / "export" / "trainings.csv").read_text().splitlines()) == len(shown) + 1

    # The same branch again: nothing to do, the same directory.
    stamp = (bdir / "metrics.sqlite").stat().st_mtime_ns
    assert main([*args, "--quiet"]) == 0
    assert (bdir / "metrics.sqlite").stat().st_mtime_ns == stamp
    assert len(list((out / "branches").iterdir())) == 1

    # More seeds on the run: the run and then the branch train only the new seed.
    three = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0, 1, 2])
    ticketlab.run(three, out, make_figures=False)
    assert main([*args, "--quiet"]) == 0
    again = RunDir.open(bdir).summaries()
    assert [r for r in again if r["seed"] != 2] == rows
    assert len([r for r in again if r["seed"] == 2]) == 8


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.lr=0.1"], "a branch cannot change train.lr"),
        (["prune.rounds=5"], "a branch cannot change prune.rounds"),
        (["experiment.controls=[reinit]"], "adds nothing the run trains already"),
        (["experiment.controls=[bogus]"], "experiment.controls[0] must be one of"),
    ],
)
@pytest.mark.slow
def test_a_branch_that_would_change_the_tickets_is_refused(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    out = tmp_path / "run"
    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0])
    ticketlab.run(cfg, out, make_figures=False)
    with pytest.raises(ticketlab.TicketlabError, match=re.escape(message)):
        branch(out, overrides)
    assert not (out / "branches").exists()


@pytest.mark.slow
def test_a_branch_of_an_unfinished_run_is_refused_past_its_masks(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0])

    def stop_in_round_1(p: RoundProgress) -> None:
        if p.round == 1:
            raise Stop

    with pytest.raises(Stop):
        ticketlab.run(cfg, out, on_progress=stop_in_round_1, make_figures=False)
    with pytest.raises(ticketlab.TicketlabError, match=r"no mask yet for round\(s\) 2"):
        branch(out, ["experiment.controls=[reinit, reshuffle]"])
    bd = branch(out, ["experiment.controls=[reinit, reshuffle]"], rounds=[0, 1])
    assert bd.status()["status"] == "complete"
    assert {r["round"] for r in bd.summaries()} == {0, 1}


@pytest.mark.slow
def test_a_branch_does_not_retrain_what_another_branch_finished(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0])
    ticketlab.run(cfg, out, make_figures=False)
    first = branch(out, ["transfer.datasets=[fashion_mnist]"], rounds=[0, 1])
    second = branch(
        out,
        ["transfer.datasets=[fashion_mnist]", "experiment.controls=[reinit, reshuffle]"],
        rounds=[0, 1],
    )
    rows = second.summaries()
    # The FashionMNIST ticket and re-init are the first branch's: only reshuffle is new.
    assert {(r["dataset"], r["control"]) for r in rows} == {
        ("mnist", "reshuffle"),
        ("fashion_mnist", "reshuffle"),
    }
    assert second.status()["status"] == "complete"
    assert len(first.summaries()) == 2 * 2  # rounds x (ticket, reinit) on FashionMNIST
    # A setting with the same label but another batch size is another training: trained,
    # not taken from the first branch, and shown beside it.
    other = "{optimizer: adam, lr: 0.0012, epochs: 2, batch_size: 50, eval_every: 5}"
    third = branch(
        out,
        ["transfer.datasets=[fashion_mnist]", f"transfer.settings=[{other}]"],
        rounds=[0, 1],
    )
    assert {r["batch_size"] for r in third.summaries()} == {50}
    assert len(third.summaries()) == 2 * 2
    assert len(RunDir.open(out).summaries()) == 2 * 3 + 4 + 4 + 4


@pytest.mark.slow
def test_a_branch_retrains_the_tickets_on_their_own_dataset_under_another_setting(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0])
    own = ticketlab.run(cfg, out, make_figures=False).summaries()
    before = snapshot(out)
    sgd = "{optimizer: sgd, lr: 0.01, epochs: 1, batch_size: 100, eval_every: 5}"
    bd = branch(out, ["transfer.datasets=[mnist]", f"transfer.settings=[{sgd}]"])
    assert snapshot(out) == before
    rows = bd.summaries()
    assert {(r["dataset"], r["setting"], r["control"]) for r in rows} == {
        ("mnist", "sgd lr=0.01, 1 epochs", None),
        ("mnist", "sgd lr=0.01, 1 epochs", "reinit"),
    }
    assert len(rows) == 3 * 2
    # The run's tickets, not new ones: its masks and data orders, and no mask or rewind of
    # the branch's own (only the trunk's tickets are pruned).
    left = {(r["round"], r["seed"]): r["weights_remaining"] for r in own}
    order = {(r["round"], r["seed"]): r["data_seed"] for r in own}
    assert all(r["weights_remaining"] == left[(r["round"], r["seed"])] for r in rows)
    assert all(r["data_seed"] == order[(r["round"], r["seed"])] for r in rows)
    assert not (bd.path / "masks").exists()
    # Figure 1 stays the trunk's; the retraining is drawn among the transfers.
    names = {p.name for p in ticketlab.plot(out)}
    assert "figure1.png" in names and "figure2-sgd-lr-0-01-1-epochs.png" in names


@pytest.mark.slow
def test_one_report_over_two_runs_pairs_within_each_and_names_its_families(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs (the data-order ablation) on one page with a direct comparison: each run's
    records pair only with its own, and the second run's tickets meet the first's; the
    page's pooled tests are one Holm family (per run: 2 accuracy + 2 sign-flip + 1 direct =
    5, so 10, and 1 between the runs: 11) and its per-level tests another (per run: 3
    comparisons x 3 levels, so 18, and 3 between the runs: 21)."""
    runs = []
    for order in ("per_round", "fixed"):
        cfg = ticketlab.load_config(
            preset_name="seed",
            overrides=[
                *TINY[1::2],
                f"experiment.data_order={order}",
                "experiment.controls=[reinit, signed_reinit]",
            ],
            seeds=[0, 1, 2],
        )
        runs.append(ticketlab.run(cfg, tmp_path / order, make_figures=False).path)
    args = ["report", *map(str, runs), "--arms", "signed_reinit:reinit"]
    assert main(args) == 2
    assert "needs a folder to write it to: give --out DIR" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "page")]) == 0
    md = (tmp_path / "page" / "report.md").read_text()
    assert md.startswith("# ticketlab report: seed + seed")
    assert "| per_round | MNIST |" in md and "| fixed | MNIST |" in md
    assert set(re.findall(r"Holm over (\d+) pooled tests", md)) == {"11"}
    assert "Holm-adjusted over the 21 per-level tests of the page" in md
    assert "## Tickets of each run against the first run's" in md
    assert "| fixed minus per_round | MNIST |" in md
    assert "signed_reinit minus reinit" in md
    assert "(../per_round/figures/figure1.png)" in md and "(../fixed/figures/figure1.png)" in md
    # Mask overlap: the two data orders' masks of the same seed (same initial weights), and
    # within each run between seeds and against the large-init mask; a heat map of it.
    assert "## Mask overlap" in md and "| per_round vs fixed | 1 |" in md
    assert "| between seeds | 2 |" in md and "| large_init | 2 |" in md
    assert (tmp_path / "page" / "figures" / "mask-overlap-runs.png").is_file()
    # Paired within each run: the page's numbers are each run's own report's.
    single = {}
    for run in runs:
        assert main(["report", str(run)]) == 0
        single[run.name] = (run / "report.md").read_text()
    row = next(x for x in md.splitlines() if x.startswith("| fixed | MNIST |") and "reinit |" in x)
    diff = row.split("|")[5].split(" pp over")[0].split(": ")[-1]
    assert f"{diff} pp over" in single["fixed"]
    assert main([*args[:-2], "--arms", "reinit:bogus", "--out", str(tmp_path / "p2")]) == 2
    assert "no records of bogus" in capsys.readouterr().err
