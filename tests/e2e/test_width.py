"""The strong-ticket width test at tiny widths: every cell for every seed, parameter
matching, the page, resumption, and a folder of another plan refused."""

import json
from pathlib import Path

import pytest

from tests.helpers import load_script
from ticketlab.cli import main
from ticketlab.errors import RunLocked
from ticketlab.store.files import exclusive

TINY = [
    *("--seeds", "0", "1", "--base", "8", "8", "--widths", "1", "2", "--deep-widths", "1"),
    *("--keeps", "0.5", "--inits", "kaiming_normal", "--epochs", "1", "--subset", "1000"),
    *("--target-epochs", "2", "--quiet"),
]


@pytest.mark.slow
def test_the_width_test_runs_every_cell_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "width"
    assert main(["width", "--out", str(out), *TINY]) == 0
    rows = json.loads((out / "width.json").read_text())
    # Target + per network shape (8-8 at 1x and 2x, 8-8-8-8 at 1x): random mask untrained
    # and trained, two methods at keep 0.5 and matched, the logit fit: 1 + 3 x 7 cells.
    assert len({r["cell"] for r in rows}) == 22 and len(rows) == 44
    target = 784 * 8 + 8 * 8 + 8 * 10
    assert {r["kept_weights"] for r in rows if r["kind"] == "target"} == {target}
    for r in rows:
        if r["matched"]:  # as many kept weights as the target has, up to per-tensor rounding
            assert abs(r["kept_weights"] - target) <= 3 or r["keep"] == 1.0
        if r["kind"] == "fit":
            assert r["fit_mse"] > 0
        assert 0 <= r["test_acc"] <= 1
    assert next(r["hidden"] for r in rows if r["cell"].startswith("subnetwork/4/1/")) == [8] * 4
    page = (out / "width.md").read_text()
    assert "Welch's unpaired 95% interval" in page and "| subnetwork of the frozen" in page
    assert "](width.png)" in page and (out / "width.png").stat().st_size > 10_000
    meta = json.loads((out / "width-run.json").read_text())
    assert meta["plan"]["widths"] == [1, 2] and meta["invocations"][0]["git_commit"]
    # The same command again: nothing to train, nothing added.
    assert main(["width", "--out", str(out), *TINY]) == 0
    assert len(json.loads((out / "width.json").read_text())) == 44
    assert len(json.loads((out / "width-run.json").read_text())["invocations"]) == 2
    # A wider plan into the same folder trains only its new cells (7 at width 3, two seeds),
    # and leaves the rows there untouched.
    at = TINY.index("--widths") + 3  # after "--widths 1 2"
    wider = [*TINY[:at], "3", *TINY[at:]]
    assert main(["width", "--out", str(out), *wider]) == 0
    grown = json.loads((out / "width.json").read_text())
    assert grown[:44] == rows and len(grown) == 58
    assert {r["width"] for r in grown[44:]} == {3}
    # The training length is not a list of cells: another one is refused.
    assert main(["width", "--out", str(out), *TINY, "--epochs", "2"]) == 2


def test_a_width_folder_of_another_plan_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "width"
    out.mkdir()
    (out / "width-run.json").write_text(json.dumps({"plan": {}, "train": {}, "data": {}}))
    assert main(["width", "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "holds a width test of another plan" in err and "only --widths, --deep-widths" in err


@pytest.mark.slow
def test_the_width_test_of_a_conv_net_widens_channels_and_fits_logits(tmp_path: Path) -> None:
    out = tmp_path / "conv"
    args = [
        *("width", "--out", str(out), "--model", "conv2", "--seeds", "0", "1"),
        *("--widths", "1", "--keeps", "0.5", "--inits", "signed_constant"),
        *("--methods", "edgepopup", "--epochs", "1", "--subset", "128"),
        *("--target-epochs", "1", "--quiet"),
    ]
    assert main(args) == 0
    rows = json.loads((out / "width.json").read_text())
    # Target; random mask untrained and trained; edge-popup at 0.5 and matched (all of
    # Conv-2 at width 1); the logit fit: 6 cells, 2 seeds each.
    assert len({r["cell"] for r in rows}) == 6 and len(rows) == 12
    conv2 = 3 * 64 * 9 + 64 * 64 * 9 + 64 * 16 * 16 * 256 + 256 * 256 + 256 * 10
    assert {r["kept_weights"] for r in rows if r["kind"] == "target"} == {conv2}
    assert {tuple(r["hidden"]) for r in rows} == {(64, 64, 256, 256)}
    half = next(r for r in rows if r["kind"] == "subnetwork" and not r["matched"])
    assert abs(half["kept_weights"] - conv2 / 2) <= 5  # per-tensor rounding
    fits = [r for r in rows if r["kind"] == "fit"]
    assert len(fits) == 2 and all(r["fit_mse"] > 0 for r in fits)
    meta = json.loads((out / "width-run.json").read_text())
    assert meta["plan"]["model"] == "conv2" and meta["data"]["dataset"] == "cifar10"
    assert meta["train"]["augment"] == "none"
    # Twice the depth is not a Conv-N plan: refused with what to give instead.
    assert main([*args[:2], str(tmp_path / "deep"), *args[3:], "--deep-widths", "1"]) == 2


@pytest.mark.slow
def test_a_width_test_run_in_two_parts_and_merged_equals_it_run_whole(tmp_path: Path) -> None:
    """scripts/width_merge.py: a test split by method over two folders, merged, holds the
    rows of the test run in one folder (all but wall times); the whole plan's command then
    trains nothing more and draws the figure; the folder names every invocation."""
    merge = load_script("width_merge").merge
    at = TINY.index("--deep-widths")
    plan = [*TINY[:at], *TINY[at + 2 :], "--deep-widths"]  # widths 1 and 2, same depth only
    whole, part, other = (tmp_path / n for n in ("whole", "part", "other"))
    assert main(["width", "--out", str(whole), *plan]) == 0
    assert main(["width", "--out", str(part), *plan, "--methods", "edgepopup"]) == 0
    assert main(["width", "--out", str(other), *plan, "--methods", "biprop", "--no-fit"]) == 0
    with exclusive(other), pytest.raises(RunLocked):  # a command still writing into it
        merge(part, other, dirty=True)
    assert merge(part, other, dirty=True) == 8  # biprop at 0.5 and matched, two widths
    assert merge(part, other, dirty=True) == 0  # once only
    assert main(["width", "--out", str(part), *plan]) == 0
    assert (part / "width.png").is_file()

    def rows(folder: Path) -> dict[tuple[str, int], dict]:
        made = json.loads((folder / "width.json").read_text())
        return {(r["cell"], r["seed"]): {**r, "wall_s": 0} for r in made}

    assert rows(part) == rows(whole) and len(rows(whole)) == 30  # 15 cells, two seeds
    walls = {
        (r["cell"], r["seed"]): r["wall_s"] for r in json.loads((part / "width.json").read_text())
    }
    merged = [r for r in json.loads((other / "width.json").read_text()) if "biprop" in r["cell"]]
    assert all(walls[r["cell"], r["seed"]] == r["wall_s"] for r in merged)  # not trained again
    runs = json.loads((part / "width-run.json").read_text())["invocations"]
    assert [r.get("merged_from") for r in runs] == [None, "other", None]
    # A part of another test (another number of epochs) is refused, nothing written.
    again = tmp_path / "again"
    assert main(["width", "--out", str(again), *plan, "--epochs", "2", "--methods", "biprop"]) == 0
    before = (part / "width-run.json").read_text()
    with pytest.raises(ValueError, match="plans' epochs differ"):
        merge(part, again, dirty=True)
    assert (part / "width-run.json").read_text() == before
