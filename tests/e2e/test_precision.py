"""train.precision: bf16 autocast for the dense products, recorded, labelled and refused
where the processor has no bfloat16 instructions; fp32 configs keep their identity."""

from pathlib import Path

import pytest
import torch

import ticketlab
import ticketlab.device as devices
from tests.helpers import TINY
from ticketlab.cli import main


def test_fp32_leaves_the_identity_and_bf16_names_itself() -> None:
    cfg = ticketlab.load_config(preset_name="seed")
    assert "precision" not in cfg.identity()["train"]
    bf16 = ticketlab.load_config(preset_name="seed", overrides=["train.precision=bf16"])
    assert bf16.identity_hash() != cfg.identity_hash()
    assert bf16.train.label() == "adam lr=0.0012, 10 epochs, bf16"


def test_bf16_is_refused_without_bfloat16_instructions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(devices, "bf16_supported", lambda device: False)
    args = ["run", "--preset", "quick", "--set", "train.precision=bf16"]
    assert main([*args, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "train.precision is bf16, but this cpu has no bfloat16 instructions" in err
    assert "set train.precision: fp32" in err


@pytest.mark.slow
@pytest.mark.skipif(
    not devices.bf16_supported(torch.device("cpu")), reason="no bfloat16 instructions here"
)
def test_bf16_training_is_recorded_and_close_to_fp32(tmp_path: Path) -> None:
    runs = {}
    for precision in ("fp32", "bf16"):
        # Round 2 keeps 10%: a block-sparse input layer, in fp32 under either precision.
        overrides = [*TINY[1::2], f"train.precision={precision}", "prune.p_final=0.1"]
        cfg = ticketlab.load_config(preset_name="seed", overrides=overrides, seeds=[0])
        runs[precision] = ticketlab.run(cfg, tmp_path / precision, make_figures=False).summaries()
    assert {r["precision"] for r in runs["bf16"]} == {"bf16"}
    assert {r["precision"] for r in runs["fp32"]} == {"fp32"}
    # What ran: bf16 in the dense rounds; fp32 throughout once a layer is block-sparse.
    kernels = {r["round"]: set(r["kernels"].values()) for r in runs["bf16"]}
    assert kernels[0] == {"dense bf16"}
    assert "block-sparse fp32" in kernels[2] and "dense bf16" not in kernels[2]
    assert {k for r in runs["fp32"] for k in r["kernels"].values()} <= {
        "dense fp32",
        "block-sparse fp32",
    }
    for a, b in zip(runs["fp32"], runs["bf16"], strict=True):
        assert b["setting"] == a["setting"] + ", bf16"
        assert (
            a["final_test_acc"] != b["final_test_acc"]
            or a["final_test_loss"] != b["final_test_loss"]
        )  # bf16 products did run
        assert abs(a["final_test_acc"] - b["final_test_acc"]) < 0.05
