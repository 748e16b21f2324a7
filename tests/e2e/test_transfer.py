"""Transfer runs end to end on the real data, the report in headless Chromium, export."""

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ticketlab.cli import main
from ticketlab.config import preset

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def tiny_transfer_config(path: Path) -> Path:
    cfg = preset("seed").to_dict()
    cfg["data"].update(train_subset=1000, val_size=500, test_subset=1000)
    cfg["prune"].update(rounds=1, p_final=0.5)
    cfg["train"].update(epochs=2, batch_size=100, eval_every=5)
    cfg["transfer"]["settings"] = [
        dict(cfg["train"]),
        dict(cfg["train"], optimizer="sgd", lr=0.01, epochs=1),
    ]
    cfg["maxgroup"].update(train_size=3000, test_size=1000)
    path.write_text(yaml.safe_dump(cfg))
    return path


def render(page: Path, tmp_path: Path) -> tuple[str, str]:
    """Headless Chromium: the DOM after load and its log (console messages included)."""
    assert CHROMIUM, "chromium is missing: scripts/test.sh installs Debian's chromium"
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.stdout, proc.stderr


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="headless Chromium not installed (scripts/test.sh installs it; CI requires it)",
)


@pytest.mark.slow
def test_transfer_run_report_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    cfg = tiny_transfer_config(tmp_path / "t.yaml")
    assert main(["run", str(cfg), "--seeds", "0", "1", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["show", str(out), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    adam, sgd = "adam lr=0.0012, 2 epochs", "sgd lr=0.01, 1 epochs"
    combos = {(r["dataset"], r["setting"]) for r in rows}
    assert combos == {("mnist", adam)} | {
        (d, s) for d in ("fashion_mnist", "cifar10", "maxgroup") for s in (adam, sgd)
    }
    assert len(rows) == 2 * 2 * 7 * 2  # seeds x rounds x (dataset, setting) pairs x 2 kinds
    by = {(r["dataset"], r["setting"], r["round"], r["seed"], r["kind"]): r for r in rows}
    for d in ("fashion_mnist", "cifar10", "maxgroup"):
        t = by[(d, sgd, 1, 0, "ticket")]
        assert t["optimizer"] == "sgd" and t["lr"] == 0.01
        assert t["weights_remaining"] == by[("mnist", adam, 1, 0, "ticket")]["weights_remaining"]
        assert t["init_seed"] == by[("mnist", adam, 1, 0, "ticket")]["init_seed"]
    assert by[("fashion_mnist", adam, 1, 0, "ticket")]["final_test_acc"] > 0.5
    # Same setting and training-set size: 2 seeds x 4 datasets x (ticket, control) train
    # as one cohort of 16; the SGD setting's 2 seeds x 3 datasets x 2 as one of 12.
    assert {r["cohort_size"] for r in rows if r["setting"] == adam} == {16}
    assert {r["cohort_size"] for r in rows if r["setting"] == sgd} == {12}

    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figures == [
        "figure1.png",
        "figure2-adam-lr-0-0012-2-epochs.png",
        "figure2-grid.png",
        "figure2-sgd-lr-0-01-1-epochs.png",
        "keep-maps.png",
        "mask-overlap.png",
        "sign-flips.png",
        "supermask.png",
    ]
    assert main(["report", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "| FashionMNIST | sgd lr=0.01, 1 epoch | reinit |" in md
    assert "95% CI" in md and "[" in md
    html_text = (out / "report.html").read_text()
    assert html_text.count("data:image/png;base64,") == 8
    assert "<th>ticket supermask %</th>" in html_text
    assert "http://" not in html_text and "https://" not in html_text
    assert "<th></th>" not in html_text  # every column has a header
    assert "<td class='t'>FashionMNIST</td>" in html_text  # text left, numbers right
    assert "<th>pixel mean</th>" in html_text and '"mean":' not in html_text  # a table
    assert "units without inputs (most over seeds)" in html_text
    # Adam (20 steps) and SGD (10 steps) compared at the last step both evaluated: 10.
    assert "## The ticket's sign flips at equal steps across settings" in md
    assert "| FashionMNIST | 10 | sgd lr=0.01, 1 epoch minus adam lr=0.0012, 2 epochs |" in md

    assert main(["export", str(out), "--to", str(tmp_path / "x")]) == 0
    with open(tmp_path / "x" / "trainings.csv") as f:
        exported = list(csv.DictReader(f))
    assert len(exported) == len(rows)
    # The supermask accuracy is the step-0 evaluation's test accuracy.
    with open(tmp_path / "x" / "evals.csv") as f:
        at_zero = {e["training_id"]: e["test_acc"] for e in csv.DictReader(f) if e["step"] == "0"}
    assert all(float(r["supermask_acc"]) == float(at_zero[r["training_id"]]) for r in exported)
    with open(tmp_path / "x" / "evals.csv") as f:
        assert len(list(csv.DictReader(f))) > len(rows)
    assert len(json.loads((tmp_path / "x" / "trainings.json").read_text())) == len(rows)

    if CHROMIUM or os.environ.get("CI") == "true":
        dom, log = render(out / "report.html", tmp_path)
        assert 'data-images-loaded="8/8"' in dom
        assert "CONSOLE" not in log, log


@needs_chromium
def test_console_errors_would_be_seen(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom')</script></body></html>")
    _, log = render(page, tmp_path)
    assert "CONSOLE" in log and "boom" in log


@pytest.mark.parametrize(
    "override, message",
    [
        ("transfer.datasets=[svhn]", "transfer.datasets[0] must be one of"),
        ("transfer.datasets=[mnist]", "named like train"),
        ("transfer.datasets=[cifar10, cifar10]", "lists a dataset twice"),
        ("maxgroup.groups=1", "maxgroup.groups must be an integer >= 2"),
    ],
)
def test_bad_transfer_config(
    override: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--preset", "quick", "--set", override, "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_transfer_to_a_dataset_of_other_classes_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    for split in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / "two" / split / cls).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(
                    tmp_path / "two" / split / cls / f"{i}.png"
                )
    code = main(
        [
            "run",
            "--preset",
            "quick",
            "--set",
            "data.val_size=2",
            "--set",
            f"transfer.datasets=['imagefolder:{tmp_path / 'two'}']",
            "--out",
            str(tmp_path / "r"),
            "--quiet",
        ]
    )
    assert code == 2
    assert "has 784 inputs and 2 classes" in capsys.readouterr().err
    assert not (tmp_path / "r" / "metrics.sqlite").exists()
