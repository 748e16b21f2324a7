"""A run directory under damage: every kind of file overwritten, truncated or deleted, and
what each command then does; `ticketlab verify` finds each, and `--repair` rebuilds what
can be rebuilt without training."""

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import ticketlab
from tests.helpers import TINY, load_script
from ticketlab.cli import main
from ticketlab.store.files import FileCheckpoint

ARGS = ["run", "--preset", "seed", *TINY, "--set", "prune.rounds=2", "--seeds", "0", "1"]
ARGS += ["--set", "experiment.rewind_step=5", "--set", "experiment.controls=[reinit, random_mask]"]


def overwrite(p: Path) -> None:
    with open(p, "r+b") as f:  # a bad copy or a failing disk: garbage over the start
        f.write(b"\0garbage\0" * 8)


def truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: max(1, p.stat().st_size // 3)])


def delete(p: Path) -> None:
    p.unlink()


DAMAGE = {"overwrite": overwrite, "truncate": truncate, "delete": delete}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("made") / "run"
    assert main([*ARGS, "--out", str(out), "--quiet"]) == 0
    assert (
        main(["branch", str(out), "--set", "experiment.controls=[signed_reinit]", "--quiet"]) == 0
    )
    assert main(["report", str(out)]) == 0
    return out


@pytest.fixture()
def run(made: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(made, copy)
    return copy


def records(path: Path) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k != "wall_time_s"}
        for r in ticketlab.RunDir.open(path).summaries()
    ]


def bad(path: Path) -> dict[str, str]:
    """What verify finds wrong, by path relative to the run."""
    return {str(f.path.relative_to(path)): f.state for f in ticketlab.verify(path) if f.bad}


def one_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("ticketlab: error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_an_intact_run_verifies(made: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bad(made) == {}
    assert main(["verify", str(made)]) == 0


@pytest.mark.parametrize("how", ["overwrite", "truncate", "delete"])
def test_the_database_is_rebuilt_from_the_journal(
    run: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    want = records(run)
    DAMAGE[how](run / "metrics.sqlite")
    if how != "delete":
        err = one_line(capsys, "show", str(run))
        assert "metrics.sqlite is damaged" in err and "verify --repair" in err
        one_line(capsys, "run", *ARGS[1:], "--out", str(run), "--quiet")
    assert bad(run) == {"metrics.sqlite": "rebuildable"}
    assert main(["verify", str(run)]) == 1
    assert main(["verify", str(run), "--repair"]) == 0
    assert records(run) == want
    assert bad(run) == {}


def test_a_resume_inserts_what_the_journal_holds_and_the_database_lacks(run: Path) -> None:
    want = records(run)
    db = sqlite3.connect(run / "metrics.sqlite")
    with db:
        db.execute("DELETE FROM evals WHERE training_id LIKE 'r02/%'")
        db.execute("DELETE FROM trainings WHERE round = 2")
    db.close()
    assert bad(run) == {"metrics.sqlite": "rebuildable"}
    assert main([*ARGS, "--out", str(run), "--quiet"]) == 0  # nothing retrained
    assert records(run) == want


@pytest.mark.parametrize("how", ["overwrite", "truncate", "delete"])
def test_the_journal(run: Path, how: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = run / "records.jsonl"
    if how == "truncate":  # records the database holds are lost from the journal
        truncate(path)
        assert bad(run) == {"records.jsonl": "damaged"}
        path.unlink()  # what verify says to do: built again from the database
        assert main([*ARGS, "--out", str(run), "--quiet"]) == 0
        assert bad(run) == {}
        return
    DAMAGE[how](path)
    if how == "delete":  # as a run made before the journal: built from the database
        assert bad(run) == {}
        assert main([*ARGS, "--out", str(run), "--quiet"]) == 0
        assert path.is_file() and bad(run) == {}
        return
    assert bad(run) == {"records.jsonl": "damaged"}
    err = one_line(capsys, "run", *ARGS[1:], "--out", str(run), "--quiet")
    assert "records.jsonl is damaged: line 1 is not a cohort's records" in err


@pytest.mark.parametrize("how", ["overwrite", "truncate", "delete"])
@pytest.mark.parametrize("name", ["masks/seed0/round01", "inits/seed0/rewind"])
def test_trained_tensors_cannot_be_rebuilt(
    run: Path, name: str, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = run / f"{name}.safetensors"
    DAMAGE[how](path)
    assert bad(run) == {f"{name}.safetensors": "missing" if how == "delete" else "damaged"}
    assert main(["verify", str(run), "--repair"]) == 1
    branch = ["branch", str(run), "--set", "experiment.controls=[reshuffle]", "--quiet"]
    err = one_line(capsys, *branch)
    if how != "delete":
        assert f"{path} is damaged" in err and "cannot be rebuilt" in err


def test_a_torn_last_journal_line_is_cut_by_the_next_run(run: Path) -> None:
    path = run / "records.jsonl"
    with open(path, "ab") as f:  # a crash inside the next cohort's lines
        f.write(b'[{"id": "r09/seed0/mnist/adam lr=0.0012, 2 epochs/tic')
    assert bad(run) == {}
    assert main([*ARGS, "--out", str(run), "--quiet"]) == 0
    assert path.read_bytes().endswith(b"\n")
    ids = {r["id"] for line in path.read_text().splitlines() for r in json.loads(line)}
    assert ids == ticketlab.RunDir.open(run).completed()


@pytest.mark.parametrize("how", ["overwrite", "truncate", "delete"])
@pytest.mark.parametrize(
    "name",
    [
        "inits/seed0/ticket",
        "inits/seed1/round01-reinit",
        "masks/seed1/round02-random_mask",
        "branches/*/inits/seed0/round01-signed_reinit",
    ],
)
def test_initial_weights_are_drawn_again_bit_for_bit(run: Path, name: str, how: str) -> None:
    (path,) = run.glob(f"{name}.safetensors")
    before = path.read_bytes()
    DAMAGE[how](path)
    assert bad(run) == {str(path.relative_to(run)): "rebuildable"}
    assert main(["verify", str(run), "--repair"]) == 0
    assert path.read_bytes() == before
    assert bad(run) == {}


def test_a_branch_with_only_its_journal_is_restored_by_one_repair(run: Path) -> None:
    """A branch's small files carried to another machine (the trunk made again there):
    one repair rebuilds its database from the journal and then draws the control files its
    records name, bit for bit, so the branch resumes where it was."""
    (branch,) = run.glob("branches/*")
    want = records(run)
    inits = {p: p.read_bytes() for p in branch.glob("inits/seed*/*.safetensors")}
    assert inits
    (branch / "metrics.sqlite").unlink()
    shutil.rmtree(branch / "inits")
    assert bad(run) == {"branches/" + branch.name + "/metrics.sqlite": "rebuildable"}
    assert main(["verify", str(run), "--repair"]) == 0
    assert bad(run) == {}
    assert records(run) == want
    assert all(p.read_bytes() == b for p, b in inits.items())


def test_a_journal_written_before_a_field_existed_rebuilds_it_as_null(run: Path) -> None:
    """Records written by older code lack the fields added since (database.ADDED_COLUMNS):
    newer code rebuilds the database from them, the missing fields null."""
    path = run / "records.jsonl"
    lines = []
    for line in path.read_text().splitlines():
        cohort = json.loads(line)
        for r in cohort:
            del r["training"]["precision"], r["training"]["kernels"]
            r["evals"] = [e[:-2] for e in r["evals"]]  # before sign_flip, sign_flips
        lines.append(json.dumps(cohort))
    path.write_text("\n".join(lines) + "\n")
    (run / "metrics.sqlite").unlink()
    assert main(["verify", str(run), "--repair"]) == 0
    db = sqlite3.connect(run / "metrics.sqlite")

    def count(table: str, where: str = "1") -> int:
        return db.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]

    assert count("trainings") > 0 and count("trainings", "precision IS NOT NULL") == 0
    assert count("evals") > 0 and count("evals", "sign_flip IS NOT NULL") == 0
    db.close()


@pytest.mark.parametrize("how", ["overwrite", "truncate", "delete"])
@pytest.mark.parametrize("name", ["config.yaml", "run.json", "branch.json"])
def test_text_files(run: Path, name: str, how: str, capsys: pytest.CaptureFixture[str]) -> None:
    (path,) = run.glob(name) if name != "branch.json" else run.glob(f"branches/*/{name}")
    DAMAGE[how](path)
    if name == "branch.json":
        if how == "delete":  # then it is no branch: left out, the run shows
            assert main(["show", str(run)]) == 0
            return
        capsys.readouterr()
        assert main(["show", str(run)]) == 0  # the run shows; the branch is named
        assert "branch branch-" in capsys.readouterr().err
        one_line(capsys, "show", str(path.parent))
        return
    if name == "config.yaml" and how == "delete":
        err = one_line(capsys, "show", str(run))
        assert "is not a ticketlab run directory" in err
        return
    if name == "run.json" and how == "delete":
        assert bad(run) == {"run.json": "missing"}
        return
    one_line(capsys, "show", str(run))
    assert bad(run) == {name: "damaged"}
    capsys.readouterr()
    assert main(["ls", str(run.parent)]) == 0
    assert "damaged" in capsys.readouterr().out


def test_figures_and_report_are_redrawn(run: Path) -> None:
    truncate(run / "figures" / "figure1.png")
    truncate(run / "report.html")
    assert bad(run) == {"figures": "rebuildable", "report.html": "rebuildable"}
    assert main(["verify", str(run), "--repair"]) == 0
    assert bad(run) == {}


def test_a_damaged_progress_file_is_ignored_with_a_warning(run: Path) -> None:
    overwrite(run / "progress.json")
    with pytest.warns(UserWarning, match="progress.json is damaged"):
        assert ticketlab.RunDir.open(run).progress() is None
    assert main(["show", str(run)]) == 0


def test_a_damaged_checkpoint_retrains_its_cohort(tmp_path: Path) -> None:
    ck = FileCheckpoint(tmp_path / "checkpoints" / "cohort.pt")
    ck.save({"step": 3})
    assert ck.load() == {"step": 3}
    truncate(ck.path)
    with pytest.warns(UserWarning, match="its cohort trains again from the start"):
        assert ck.load() is None
    assert not ck.path.exists()


def test_a_rerun_is_checked_against_the_committed_export(run: Path, tmp_path: Path) -> None:
    """scripts/same_records.py: a run equals its own export (its branches aside); one
    changed field of the run's own records is named."""
    same = load_script("same_records")
    committed = tmp_path / "committed"
    ticketlab.api.export(run, committed)
    assert same.differences(run, committed) == []
    path = committed / "trainings.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    own = next(r for r in rows if not r["branch"])
    own["es_test_acc"] = "0.5"
    next(r for r in rows if r["branch"])["final_test_acc"] = "0.5"  # a branch's: not compared
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (line,) = same.differences(run, committed)
    assert line.startswith(own["training_id"]) and "es_test_acc" in line


def test_branches_a_rerun_lacks_are_named(run: Path, tmp_path: Path) -> None:
    """scripts/same_records.py --branches: a run's export names none of its own branches as
    lacking; once a branch's directory is gone (a re-run on another machine), it is named,
    so that re-recording the run cannot drop its records."""
    same = load_script("same_records")
    committed = tmp_path / "committed"
    ticketlab.api.export(run, committed)
    assert same.lacking(run, committed) == []
    assert same.lacking(run, tmp_path / "none") == []
    branch = next((run / "branches").iterdir())
    shutil.rmtree(branch)  # the run is this test's copy
    assert same.lacking(run, committed) == [f"branches/{branch.name}"]
