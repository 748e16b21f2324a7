"""Mask sources beside IMP in one run: matched counts, sanity checks, costs, a user's own
source by import path, resumption and the report."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import ticketlab
from tests.helpers import TINY
from ticketlab import api
from ticketlab.cli import main


@pytest.mark.slow
def test_mask_sources_train_at_imps_levels_with_their_sanity_checks(tmp_path: Path) -> None:
    sources = "[snip, grasp, synflow, magnitude, random, 'tests.helpers:NegativeFirst']"
    overrides = [
        *TINY[1::2],
        f"experiment.mask_sources={sources}",
        "experiment.source_scopes=[layerwise, global]",
        "experiment.source_min_density=0.1",
        "prune.output_rate=0.2",
    ]
    cfg = ticketlab.load_config(preset_name="seed", overrides=overrides, seeds=[0])
    run = ticketlab.run(cfg, tmp_path / "run", make_figures=False)
    rows = run.summaries()
    imp = {r["round"]: r for r in rows if not r["source"] and r["kind"] == "ticket"}
    mine = [r for r in rows if r["source"]]
    # p_final 0.25 over 2 rounds halves the hidden layers a round: levels 1-3 reach 12.5%,
    # past IMP's last round (2), down to source_min_density 0.1.
    assert {r["round"] for r in mine} == {1, 2, 3} and set(imp) == {0, 1, 2}
    labels = {r["source"] for r in mine}
    assert len(labels) == 12 and "snip-layerwise" in labels and "synflow-global" in labels
    assert {r["control"] for r in mine} == {None, "random_mask", "reinit", "inverted"}
    # Every check of a random mask would be a random mask again: the random source has none.
    assert {r["control"] for r in mine if r["source"].startswith("random-")} == {None}
    for r in mine:
        if r["round"] > 2:
            continue
        want = imp[r["round"]]
        if r["source"].endswith("-layerwise"):  # IMP's count in every tensor
            assert r["weights_remaining_per_layer"] == want["weights_remaining_per_layer"]
        else:  # their total, the output layer (pruned apart) at its own count
            assert r["weights_remaining"] == pytest.approx(want["weights_remaining"])
            out = "fc3.weight"
            assert r["weights_remaining_per_layer"][out] == want["weights_remaining_per_layer"][out]
    tickets = {(r["source"], r["round"]): r for r in mine if r["kind"] == "ticket"}
    for r in mine:
        if r["control"] in ("random_mask", "inverted"):  # the ticket's counts, another mask
            t = tickets[(r["source"], r["round"])]
            assert r["weights_remaining_per_layer"] == t["weights_remaining_per_layer"]
            assert r["init_seed"] == t["init_seed"] == imp[0]["init_seed"]
        if r["control"] == "reinit":
            assert r["init_seed"] != imp[0]["init_seed"]
    assert {r["mask_passes"] for r in mine if r["source"].startswith("synflow")} == {100}
    assert {r["mask_passes"] for r in mine if r["source"].startswith("snip")} == {1}
    assert all(r["mask_seconds"] >= 0 for r in mine)
    assert all(r["mask_seconds"] is None for r in rows if not r["source"])
    # The same config again: nothing left to train.
    assert len(ticketlab.run(cfg, tmp_path / "run", make_figures=False).summaries()) == len(rows)
    # Sources save no tensors (their masks are found again from the seeds): verify is clean.
    assert main(["verify", str(tmp_path / "run")]) == 0
    assert main(["report", str(tmp_path / "run")]) == 0
    md = (tmp_path / "run" / "report.md").read_text()
    assert "## Mask sources against IMP" in md and "| snip-global |" in md
    assert "| MNIST | adam lr=0.0012, 2 epochs | synflow-layerwise: inverted |" in md
    assert "Weights remaining per tensor of each source" in md and "| snip-global | 3 |" in md
    assert (tmp_path / "run" / "figures" / "mask-sources.png").is_file()
    assert (tmp_path / "run" / "figures" / "mask-cost.png").is_file()
    # A branch trains each source's ticket and checks on another dataset: the mask found on
    # MNIST again (the same masks, so the same counts and units without inputs).
    branch = api.branch(
        tmp_path / "run", ["transfer.datasets=[fashion_mnist]"], rounds=[2], progress=False
    )
    moved = [r for r in branch.summaries() if r["source"]]
    assert {r["dataset"] for r in moved} == {"fashion_mnist"}
    assert {(r["source"], r["control"]) for r in moved} == {
        (r["source"], r["control"]) for r in mine if r["round"] == 2
    }
    here = {(r["source"], r["control"]): r for r in mine if r["round"] == 2}
    for r in moved:
        there = here[(r["source"], r["control"])]
        for field in ("weights_remaining_per_layer", "units_without_inputs", "init_seed"):
            assert r[field] == there[field]


def test_an_unknown_mask_source_is_refused_with_the_choices(tmp_path: Path, capsys) -> None:
    args = ["run", "--preset", "quick", "--set", "experiment.mask_sources=[snipp]"]
    assert main([*args, "--out", str(tmp_path / "r")]) == 2
    assert "choose one of magnitude, snip, grasp, synflow, random" in capsys.readouterr().err


@pytest.mark.slow
def test_imps_inverted_check_keeps_the_lowest_scoring_weights(tmp_path: Path) -> None:
    """IMP's own inverted check: round r trains the ticket's start under the weights its
    round-before mask kept with the lowest trained magnitudes, at round r's counts. Half of
    every (even-sized) tensor a round: round 1's inverted mask is exactly the complement of
    its mask."""
    overrides = [*TINY[1::2], "experiment.controls=[reinit, inverted]"]
    cfg = ticketlab.load_config(preset_name="seed", overrides=overrides, seeds=[0])
    run = ticketlab.run(cfg, tmp_path / "run", make_figures=False)
    rows = run.summaries()
    inverted = {r["round"]: r for r in rows if r["control"] == "inverted"}
    tickets = {r["round"]: r for r in rows if r["kind"] == "ticket"}
    assert set(inverted) == {1, 2}  # none at round 0: the full mask has no inverse
    for rnd, r in inverted.items():
        assert r["weights_remaining_per_layer"] == tickets[rnd]["weights_remaining_per_layer"]
        assert r["init_seed"] == tickets[rnd]["init_seed"]
    d = tmp_path / "run" / "masks" / "seed0"
    mask, inv = load_file(d / "round01.safetensors"), load_file(d / "inverted_round01.safetensors")
    assert all(torch.equal(inv[k].bool(), ~mask[k].bool()) for k in mask)
    assert main(["verify", str(tmp_path / "run")]) == 0
    (d / "inverted_round02.safetensors").unlink()  # made from trained weights: not rebuilt
    assert main(["verify", "--repair", str(tmp_path / "run")]) == 1
