"""Early-bird tickets and PrAC as IMP sources beside IMP in one run: when each search
stops, on how many examples it trains, what the records carry, resumption, verify and the
report."""

from pathlib import Path

import pytest
from safetensors.torch import load_file

import ticketlab
from tests.helpers import TINY, load_script
from ticketlab import api
from ticketlab.cli import main
from ticketlab.data.datasets import load_dataset
from ticketlab.models.mlp import MLPSpec
from ticketlab.models.registry import architecture
from ticketlab.store.rundir import RunDir


@pytest.mark.slow
def test_earlybird_and_prac_find_masks_with_shorter_rounds(tmp_path: Path) -> None:
    overrides = [
        *TINY[1::2],
        "train.epochs=4",
        "experiment.mask_sources=[earlybird, prac, prac_earlybird]",
        # Two small moves in a row: the ticket is drawn at epoch 3 (distances at 2 and 3).
        "experiment.earlybird_window=2",
        "experiment.earlybird_eps=0.99",
    ]
    cfg = ticketlab.load_config(preset_name="seed", overrides=overrides, seeds=[0, 1])
    run = ticketlab.run(cfg, tmp_path / "run", make_figures=False)
    rows = run.summaries()
    imp = {(r["seed"], r["round"]): r for r in rows if not r["source"] and r["kind"] == "ticket"}
    mine = {(r["source"], r["seed"], r["round"]): r for r in rows if r["kind"] == "ticket"}
    # 1000 examples in batches of 100: 10 steps an epoch, 40 a round.
    assert {r["steps"] for r in rows} == {40}
    assert [imp[(0, r)]["mask_steps"] for r in range(3)] == [0, 40, 80]
    assert {r["control"] for r in rows if r["source"]} == {None, "random_mask", "reinit"}
    for seed in (0, 1):
        for level in (1, 2):
            eb = mine[("earlybird", seed, level)]
            assert (eb["search_epochs"], eb["search_steps"], eb["search_examples"]) == (3, 30, 1000)
            assert eb["search_distance"] < 0.99  # the rule drew it: its window below eps
            assert eb["mask_steps"] == 30 * level and eb["mask_seconds"] > 0
            # IMP's counts per tensor, another mask.
            want = imp[(seed, level)]["weights_remaining_per_layer"]
            assert eb["weights_remaining_per_layer"] == want
        first, second = mine[("prac", seed, 1)], mine[("prac", seed, 2)]
        assert (first["search_epochs"], first["search_steps"], first["search_examples"]) == (
            4,
            40,
            1000,
        )
        # Round 1 trains on its critical set, for proportionally fewer epochs.
        n = second["search_examples"]
        assert 0 < n < 1000
        epochs = -(-4 * n // 1000)
        assert (second["search_epochs"], second["search_steps"]) == (epochs, epochs * -(-n // 100))
        assert second["mask_steps"] == 40 + second["search_steps"]
        assert first["search_distance"] is None  # PrAC alone has no early-bird rule
        both = mine[("prac_earlybird", seed, 2)]
        assert both["search_examples"] < 1000 and both["search_epochs"] <= 3
    # PrAC's round 0 is IMP's round 0 (all the data, the same start and order): same mask.
    d = tmp_path / "run" / "masks" / "seed0"
    imp_mask, prac_mask = (
        load_file(d / "round01.safetensors"),
        load_file(d / "prac_round01.safetensors"),
    )
    assert all((imp_mask[k] == prac_mask[k]).all() for k in imp_mask)
    assert mine[("prac", 0, 1)]["es_test_acc"] == pytest.approx(
        imp[(0, 1)]["es_test_acc"], abs=1e-4
    )
    # Resumed: nothing left to do. The searches' files are checked like any mask.
    assert len(ticketlab.run(cfg, tmp_path / "run", make_figures=False).summaries()) == len(rows)
    assert main(["verify", str(tmp_path / "run")]) == 0
    # The replay script trains round 1's searches again, in the same cohort: the rule's
    # distances up to where each search stopped are the run's own, bit for bit.
    replay = load_script("earlybird_distances")
    rd = RunDir.open(tmp_path / "run")
    data = api.load_datasets(rd.config)[rd.config.data.dataset]
    spec = architecture(rd.config.model, data.shape, data.num_classes)
    for seed, ds in replay.distances(rd, spec, data, 1).items():
        assert len(ds) == 3  # after epochs 2, 3 and 4: the replay runs the round out
        assert max(ds[:2]) == mine[("earlybird", seed, 2)]["search_distance"]
    (d / "earlybird_round02.safetensors").unlink()
    assert main(["verify", str(tmp_path / "run")]) == 1
    assert main(["report", str(tmp_path / "run")]) == 0
    md = (tmp_path / "run" / "report.md").read_text()
    assert "| earlybird |" in md and "Steps spent finding the masks" in md


@pytest.mark.slow
def test_masks_learned_on_frozen_weights_at_imps_counts(tmp_path: Path) -> None:
    overrides = [
        *TINY[1::2],
        "experiment.mask_sources=[edgepopup, biprop]",
        "experiment.score_epochs=6",
    ]
    cfg = ticketlab.load_config(preset_name="seed", overrides=overrides, seeds=[0, 1])
    run = ticketlab.run(cfg, tmp_path / "run", make_figures=False)
    rows = run.summaries()
    imp = {(r["seed"], r["round"]): r for r in rows if not r["source"] and r["kind"] == "ticket"}
    mine = [r for r in rows if r["source"] and r["kind"] == "ticket"]
    assert {(r["source"], r["round"]) for r in mine} == {
        (s, lvl) for s in ("edgepopup", "biprop") for lvl in (1, 2)
    }
    for r in mine:
        want = imp[(r["seed"], r["round"])]["weights_remaining_per_layer"]
        assert r["weights_remaining_per_layer"] == want  # IMP's count in every tensor
        # 6 epochs of 10 steps, one search per level (not summed over levels).
        assert (r["search_epochs"], r["search_steps"], r["mask_steps"]) == (6, 60, 60)
        if r["source"] == "edgepopup":
            assert 0.2 < r["frozen_test_acc"] <= 1  # far above chance (10%), weights untrained
            # Its frozen network is the ticket's start under the mask: the ticket's step-0
            # evaluation is the same network (another code path; up to one example).
            assert r["supermask_acc"] == pytest.approx(r["frozen_test_acc"], abs=1.5e-3)
    # biprop's frozen network from its saved mask, by hand: each tensor's sign times the
    # mean magnitude of its kept initial weights.
    init = load_file(tmp_path / "run" / "inits" / "seed0" / "ticket.safetensors")
    mask = load_file(tmp_path / "run" / "masks" / "seed0" / "biprop_round01.safetensors")
    net = dict(init)
    for k, m in mask.items():
        gain = init[k].abs()[m.bool()].mean()
        net[k] = gain * init[k].sign() * m
    ds = load_dataset(cfg.data, download=False)
    x = ds.normalise(ds.test.x)
    acc = (MLPSpec((784, 300, 100, 10)).apply(net, x).argmax(1) == ds.test.y).float().mean()
    got = next(r for r in mine if (r["source"], r["seed"], r["round"]) == ("biprop", 0, 1))
    assert got["frozen_test_acc"] == pytest.approx(float(acc), abs=1.5e-3)
    assert len(ticketlab.run(cfg, tmp_path / "run", make_figures=False).summaries()) == len(rows)
    assert main(["verify", str(tmp_path / "run")]) == 0
    # A branch carries the learned masks to another dataset, as it does IMP's tickets.
    branch = api.branch(
        tmp_path / "run", ["transfer.datasets=[fashion_mnist]"], rounds=[1], progress=False
    )
    moved = [r for r in branch.summaries() if r["source"] and r["kind"] == "ticket"]
    assert {(r["source"], r["seed"], r["dataset"]) for r in moved} == {
        (s, seed, "fashion_mnist") for s in ("edgepopup", "biprop") for seed in (0, 1)
    }
    own = {(r["source"], r["seed"]): r for r in mine if r["round"] == 1}
    for r in moved:
        there = own[(r["source"], r["seed"])]
        for field in ("weights_remaining_per_layer", "units_without_inputs", "search_steps"):
            assert r[field] == there[field]
        assert r["frozen_test_acc"] is None  # learned on MNIST: no frozen accuracy here
        assert r["es_test_acc"] != there["es_test_acc"]
    assert main(["verify", str(branch.path)]) == 0
    assert main(["report", str(branch.path)]) == 0
    md = (branch.path / "report.md").read_text()
    assert "## Mask sources against IMP" in md and "| FashionMNIST |" in md
    # The run's own report, with its branch: each source against IMP on each dataset, and
    # the cost of the searches from the run's own tickets (a branch's have no frozen
    # accuracy).
    assert main(["report", str(tmp_path / "run")]) == 0
    md = (tmp_path / "run" / "report.md").read_text()
    for source in ("edgepopup", "biprop"):
        assert f"| {source} | MNIST |" in md and f"| {source} | FashionMNIST |" in md
