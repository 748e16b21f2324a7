"""End to end on real MNIST: the CLI, the run directory, resumption, refusals."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import ticketlab
from tests.helpers import TINY, numbers, records
from ticketlab.cli import main
from ticketlab.config import CONTROLS
from ticketlab.experiments.lottery import RoundProgress

FIELDS = {
    "round",
    "seed",
    "kind",
    "control",
    "source",
    "dataset",
    "setting",
    "optimizer",
    "lr",
    "momentum",
    "batch_size",
    "steps",
    "precision",
    "kernels",
    "weights_remaining",
    "weights_remaining_per_layer",
    "units_without_inputs",
    "final_test_acc",
    "final_test_loss",
    "final_val_acc",
    "es_step",
    "es_test_acc",
    "es_val_loss",
    "sign_flip_final",
    "sign_flip_es",
    "sign_flips_final",
    "sign_flips_es",
    "wall_time_s",
    "cohort_size",
    "init_seed",
    "data_seed",
    "mask_seconds",
    "mask_passes",
    "mask_steps",
    "search_epochs",
    "search_steps",
    "search_examples",
    "search_distance",
    "frozen_test_acc",
    "supermask_acc",
    "finished_at",
    "training_id",
    "branch",
}


@pytest.mark.slow
def test_cli_run_show_plot_ls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs" / "tiny"
    assert (
        main(["run", "--preset", "seed", *TINY, "--seeds", "0", "1", "--out", str(out), "--quiet"])
        == 0
    )
    rows = records(out, capsys)
    assert len(rows) == 2 * 3 * 2  # seeds x rounds x (ticket, control)
    assert all(set(r) == FIELDS for r in rows)
    tickets = [r for r in rows if r["kind"] == "ticket" and r["seed"] == 0]
    assert [r["weights_remaining"] for r in tickets] == pytest.approx([1.0, 0.5, 0.25], abs=1e-3)
    assert tickets[2]["weights_remaining_per_layer"] == pytest.approx(
        {"fc1.weight": 0.25, "fc2.weight": 0.25, "fc3.weight": 0.25}, abs=1e-3
    )
    assert {r["control"] for r in rows if r["kind"] == "control"} == {"reinit"}
    assert all(r["dataset"] == "mnist" and r["setting"] == "adam lr=0.0012, 2 epochs" for r in rows)
    assert all(r["steps"] == 20 and r["final_test_acc"] > 0.3 for r in rows)
    assert min(r["final_test_acc"] for r in tickets) > 0.7
    assert rows[0]["init_seed"] != rows[1]["init_seed"]  # the control has its own init

    for name in (
        "config.yaml",
        "run.json",
        "metrics.sqlite",
        "figures/figure1.png",
        "figures/figure1.svg",
        "masks/seed1/round02.safetensors",
        "inits/seed0/ticket.safetensors",
        "inits/seed0/round01-reinit.safetensors",
    ):
        assert (out / name).is_file(), name
    meta = json.loads((out / "run.json").read_text())
    assert meta["invocations"][0]["outcome"] == "complete"
    assert meta["invocations"][0]["environment"]["torch"]
    env = meta["invocations"][0]["environment"]
    assert len(env["git_commit"]) == 40 and isinstance(env["git_dirty"], bool)  # a checkout
    inv = meta["invocations"][0]
    assert inv["dataset_mb"] == 2  # 2,500 images of 784 bytes, and their labels
    assert 0 < inv["rss_before_data_mb"] <= inv["peak_rss_mb"]
    assert inv["wall_time_s"] > 0 and inv["data_load_s"] > 0
    with sqlite3.connect(out / "metrics.sqlite") as db:
        n_evals = db.execute("SELECT COUNT(*) FROM evals").fetchone()[0]
    assert n_evals == 12 * 5  # steps 0, 5, 10, 15, 20

    # Re-running a finished run does nothing.
    before = (out / "metrics.sqlite").stat().st_mtime_ns
    assert (
        main(["run", "--preset", "seed", *TINY, "--seeds", "0", "1", "--out", str(out), "--quiet"])
        == 0
    )
    assert (out / "metrics.sqlite").stat().st_mtime_ns == before
    assert len(json.loads((out / "run.json").read_text())["invocations"]) == 1

    capsys.readouterr()
    assert main(["ls", str(tmp_path / "runs")]) == 0
    listing = capsys.readouterr().out
    assert "tiny" in listing and "complete (12/12)" in listing
    assert main(["show", str(out)]) == 0
    assert "ticket" in capsys.readouterr().out
    assert main(["plot", str(out)]) == 0


@pytest.mark.slow
def test_different_config_into_existing_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    assert (
        main(
            [
                "run",
                "--preset",
                "seed",
                *TINY,
                "--set",
                "prune.rounds=1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    code = main(
        [
            "run",
            "--preset",
            "seed",
            *TINY,
            "--set",
            "prune.rounds=1",
            "--set",
            "train.lr=0.01",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "holds a run of a different config (train.lr: 0.0012 there, 0.01 now)" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot


class Stop(KeyboardInterrupt):
    pass


ALL_CONTROLS = f"experiment.controls=[{', '.join(CONTROLS)}]"


@pytest.mark.slow
def test_data_order_and_every_control_in_a_run(tmp_path: Path) -> None:
    from ticketlab.experiments.lottery import derive_seed

    overrides = [*TINY[1::2], ALL_CONTROLS]
    cfg = ticketlab.load_config(preset_name="seed", overrides=overrides, seeds=[4])
    rows = ticketlab.run(cfg, tmp_path / "per-round", make_figures=False).summaries()
    by_round: dict[int, set[int]] = {}
    for r in rows:
        by_round.setdefault(r["round"], set()).add(r["data_seed"])
    # One order per round, shared by the ticket and its controls; a fresh one every round.
    assert all(len(seeds) == 1 for seeds in by_round.values())
    assert len({s for seeds in by_round.values() for s in seeds}) == 3
    controls = {(r["round"], r["control"]) for r in rows if r["kind"] == "control"}
    names = set(CONTROLS)
    # Round 0's mask is full: a random or inverted mask of it would be the ticket.
    assert controls == {(0, c) for c in names - {"random_mask", "inverted"}} | {
        (r, c) for r in (1, 2) for c in names
    }
    for r in rows:
        assert 0 <= r["sign_flip_es"] <= 1 and 0 <= r["sign_flip_final"] <= 1
        assert set(r["sign_flips_final"]) == {"fc1.weight", "fc2.weight", "fc3.weight"}
    assert any(r["sign_flip_final"] > 0 for r in rows)
    for c in ("reinit", "signed_reinit", "signed_constant", "reshuffle"):
        assert (tmp_path / "per-round" / f"inits/seed4/round02-{c}.safetensors").is_file()

    fixed = ticketlab.load_config(
        preset_name="seed", overrides=[*overrides, "experiment.data_order=fixed"], seeds=[4]
    )
    rows = ticketlab.run(fixed, tmp_path / "fixed", make_figures=False).summaries()
    assert {r["data_seed"] for r in rows} == {derive_seed(4, "data")}


@pytest.mark.slow
def test_adding_seeds_trains_only_the_new_ones(tmp_path: Path) -> None:
    out = tmp_path / "run"
    one = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0])
    before = ticketlab.run(one, out, make_figures=False).summaries()
    files = {p: p.read_bytes() for p in (out / "masks").rglob("*") if p.is_file()}
    two = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0, 1])
    after = ticketlab.run(two, out, make_figures=False).summaries()
    assert [r for r in after if r["seed"] == 0] == before  # wall times and timestamps too
    assert len([r for r in after if r["seed"] == 1]) == len(before)
    assert all(p.read_bytes() == b for p, b in files.items())
    rd = ticketlab.RunDir.open(out)
    assert rd.config.seeds == [0, 1] and rd.status()["status"] == "complete"
    assert all(r["cohort_size"] == 2 for r in after if r["seed"] == 1)  # trained alone
    with pytest.raises(ticketlab.TicketlabError, match="different config"):
        ticketlab.run(one, out, make_figures=False)  # dropping a seed is refused


@pytest.mark.slow
def test_a_protocol_1_run_directory_resumes_with_its_old_behaviour(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ticketlab.experiments.lottery import derive_seed

    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[2]).to_dict()
    del cfg["protocol"], cfg["experiment"]["data_order"], cfg["data"]["subset_sampling"]
    del cfg["maxgroup"]["group_size"]
    out = tmp_path / "old"
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(cfg))  # as the code before wrote it
    code = main(["run", "--preset", "seed", *TINY, "--seeds", "2", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "experiment.data_order: 'fixed' there, 'per_round' now" in err
    assert f"`ticketlab resume {out}` resumes it as it was made" in err
    assert main(["resume", str(out), "--quiet"]) == 0
    rows = ticketlab.RunDir.open(out).summaries()
    assert len(rows) == 6 and {r["data_seed"] for r in rows} == {derive_seed(2, "data")}
    assert "protocol" not in yaml.safe_load((out / "config.yaml").read_text())


@pytest.mark.slow
def test_resume_after_ctrl_c_gives_the_uninterrupted_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[3])
    ticketlab.run(cfg, tmp_path / "straight", make_figures=False)

    def interrupt(p: RoundProgress) -> None:
        if p.round == 1 and p.progress.step >= 10:
            raise Stop

    with pytest.raises(Stop):
        ticketlab.run(cfg, tmp_path / "resumed", on_progress=interrupt, make_figures=False)
    rd = ticketlab.RunDir.open(tmp_path / "resumed")
    assert rd.status() == {
        "status": "interrupted",
        "trainings_done": 2,
        "trainings_total": 6,
        "next_round": 1,
    }
    capsys.readouterr()
    assert main(["ls", str(tmp_path)]) == 0
    assert "interrupted at round 1 (2/6)" in capsys.readouterr().out
    ticketlab.run(cfg, tmp_path / "resumed", make_figures=False)
    assert numbers(records(tmp_path / "resumed", capsys)) == numbers(
        records(tmp_path / "straight", capsys)
    )
    meta = json.loads((tmp_path / "resumed" / "run.json").read_text())
    assert [i["outcome"] for i in meta["invocations"]] == ["stopped: Stop", "complete"]


@pytest.mark.slow
def test_resume_after_kill_9(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "run",
        "--preset",
        "seed",
        *TINY,
        "--set",
        "prune.rounds=4",
        "--set",
        "train.epochs=6",
        "--seeds",
        "5",
        "--quiet",
    ]
    assert main([*args, "--out", str(tmp_path / "straight")]) == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketlab.cli", *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = out / "metrics.sqlite"
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            with sqlite3.connect(db) as c:
                try:
                    done = c.execute("SELECT COUNT(*) FROM trainings").fetchone()[0]
                except sqlite3.OperationalError:
                    done = 0
            if done >= 2:
                break
        time.sleep(0.05)
    assert ticketlab.RunDir.open(out).live_status()["status"] == "running"
    while (
        time.time() < deadline
        and (ticketlab.RunDir.open(out).progress() or {}).get("eta_s") is None
    ):  # written as round 1 starts, a moment after round 0 is recorded
        time.sleep(0.05)
    capsys.readouterr()
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "status: running" in shown and "of this invocation's steps, ETA" in shown
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= done < 10, "the kill should land mid-run"
    assert ticketlab.RunDir.open(out).live_status()["status"] == "interrupted"
    assert main([*args, "--out", str(out)]) == 0
    assert numbers(records(out, capsys)) == numbers(records(tmp_path / "straight", capsys))
    assert not list(out.rglob("*.tmp")), "no temporary files left behind"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--preset", "nope"], "unknown preset 'nope'"),
        (
            ["run", "--preset", "quick", "--set", "prune.p_final=0"],
            "prune.p_final must be in (0, 1]",
        ),
        (
            ["run", "--preset", "quick", "--set", "prune.rounds=0"],
            "prune.rounds must be an integer",
        ),
        (["run", "--preset", "quick", "--set", "train.lr=-1"], "train.lr must be > 0"),
        (["run", "--preset", "quick", "--set", "train.batch_size=0"], "train.batch_size must be"),
        (["run", "--preset", "quick", "--set", "data.dataset=svhn"], "data.dataset must be one of"),
        (["run", "--preset", "quick", "--set", "model.kind=cnn"], "unknown key 'model.kind'"),
    ],
)
def test_bad_input_exits_nonzero_with_a_clear_message(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    assert main([*argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_invalid_yaml_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("prune:\n  rounds: [\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "never")]) == 2
    assert "is not valid YAML" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_missing_data_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TICKETLAB_DATA")
    (tmp_path / "empty").mkdir()
    code = main(
        [
            "run",
            "--preset",
            "quick",
            "--data-dir",
            str(tmp_path / "empty"),
            "--no-download",
            "--out",
            str(tmp_path / "run"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "dataset 'mnist' not found" in err and str(tmp_path / "empty") in err
    assert not (tmp_path / "run" / "metrics.sqlite").exists()


def test_unwritable_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["run", "--preset", "quick", "--out", str(blocker / "run"), "--quiet"]) == 2
    assert "is not writable" in capsys.readouterr().err
    assert blocker.read_text() == "not a directory"


def test_foreign_directory_is_not_used_as_a_run_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    assert main(["run", "--preset", "quick", "--out", str(tmp_path), "--quiet"]) == 2
    assert "is not empty and holds no ticketlab run" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_config_command_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--preset", "seed", "--set", "train.lr=3e-3"]) == 0
    f = tmp_path / "my.yaml"
    f.write_text(capsys.readouterr().out)
    assert main(["config", str(f)]) == 0
    assert "lr: 0.003" in capsys.readouterr().out


@pytest.mark.slow
def test_the_api_shows_progress_unless_asked_not_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A notebook must not look hung: ``ticketlab.run`` draws a tqdm bar by itself."""
    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0])
    capsys.readouterr()
    ticketlab.run(cfg, tmp_path / "shown", make_figures=False)
    err = capsys.readouterr().err
    assert "round 2/2" in err and "100%" in err and "120/120" in err  # 6 trainings x 20 steps
    ticketlab.run(cfg, tmp_path / "quiet", make_figures=False, progress=False)
    assert capsys.readouterr().err == ""
