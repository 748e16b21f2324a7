"""One-shot supermasks from a run: every criterion and density, untrained, on real data."""

import json
from pathlib import Path

import pytest

import ticketlab
from tests.helpers import TINY
from ticketlab.cli import main


@pytest.mark.slow
def test_one_shot_supermasks_by_criterion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0, 1])
    run = ticketlab.run(cfg, tmp_path / "run", make_figures=False)
    args = ["supermasks", str(run.path), "--criteria", "large_final", "large_init"]
    assert main([*args, "--densities", "0.5", "0.1"]) == 0
    rows = json.loads((run.path / "supermasks.json").read_text())
    assert len(rows) == 2 * 2 * 2 * 2  # seeds x criteria x densities x starts
    assert {r["start"] for r in rows} == {"init", "signed_constant"}
    for r in rows:
        assert abs(r["weights_remaining"] - r["density"]) < 0.01
        assert 0.0 <= r["test_acc"] <= 1.0
    assert (run.path / "figures" / "supermasks-oneshot.png").is_file()
    assert "large_init" in capsys.readouterr().out
    assert main([*args[:3], "bogus", "--densities", "0.5"]) == 2
    assert "unknown criteria bogus" in capsys.readouterr().err
    assert main([*args, "--densities", "1.5"]) == 2


@pytest.mark.slow
def test_learned_supermasks_on_the_same_frozen_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0, 1])
    run = ticketlab.run(cfg, tmp_path / "run", make_figures=False)
    args = ["supermasks", str(run.path), "--criteria", "large_final", "--densities", "0.5"]
    learn = ["--learned", "edgepopup", "bernoulli", "--keep-fractions", "0.5"]
    assert main([*args, *learn]) == 0
    rows = json.loads((run.path / "supermasks.json").read_text())
    learned = [r for r in rows if r["learned"]]
    assert len(rows) - len(learned) == 2 * 2  # one-shot: seeds x starts
    assert len(learned) == 2 * 2 * 2  # methods x seeds x starts
    for r in learned:
        assert (r["score_lr"], r["score_epochs"]) == (1.0, 10)  # the run's score setting
        if r["criterion"] == "edgepopup":  # half of every tensor, exactly as asked
            assert abs(r["weights_remaining"] - 0.5) < 1e-3 and r["density"] == 0.5
            assert r["sampled_test_acc"] is None
        else:  # Bernoulli: no fraction asked, the density its thresholded mask reached
            assert r["density"] == r["weights_remaining"] and 0 < r["density"] < 1
            assert 0 <= r["sampled_test_acc"] <= 1
    # Score training found masks far above chance (10%) on untrained weights.
    assert all(r["test_acc"] > 0.2 for r in learned if r["criterion"] == "edgepopup")
    assert (run.path / "figures" / "supermasks-oneshot.png").is_file()

    # Asked again, finished cohorts are not trained again; other methods' rows stay.
    def never(*a: object, **k: object) -> None:
        raise AssertionError("trained a finished cohort again")

    monkeypatch.setattr(ticketlab.api, "learned_supermasks", never)
    again = ticketlab.api.supermasks(
        run.path, ("large_final",), (0.5,), learned=("edgepopup",), keep_fractions=(0.5,)
    )
    assert sorted(map(str, (s for s in again if s.learned))) == sorted(
        map(str, (ticketlab.api.Supermask(**r) for r in learned))
    )
    assert not list(run.path.rglob("*.pt"))  # no checkpoint left
    # Another score setting is another method: trained, beside the rows of the first.
    monkeypatch.undo()
    assert main([*args, "--learned", "bernoulli", "--score-lr", "100", "--score-epochs", "1"]) == 0
    rows = json.loads((run.path / "supermasks.json").read_text())
    settings = {(r["criterion"], r["score_lr"]) for r in rows if r["learned"]}
    assert settings == {("edgepopup", 1.0), ("bernoulli", 1.0), ("bernoulli", 100.0)}


@pytest.mark.slow
def test_the_dense_training_is_the_runs_round_zero(tmp_path: Path) -> None:
    """The supermasks retrain each seed's dense network: the same initial weights and data
    order as the run's round 0, so the same network (another cohort: equal within float
    rounding)."""
    from ticketlab.api import load_datasets
    from ticketlab.experiments.supermasks import dense_training
    from ticketlab.models.registry import architecture
    from ticketlab.train.evaluate import evaluate

    cfg = ticketlab.load_config(preset_name="seed", overrides=TINY[1::2], seeds=[0])
    run = ticketlab.run(cfg, tmp_path / "run", make_figures=False)
    data = load_datasets(cfg)["mnist"]
    spec = architecture(cfg.model, data.shape, data.num_classes)
    ((_, final),) = dense_training(
        spec, cfg, data, [0], ticketlab.api.devices.resolve("cpu")
    ).values()
    (r0,) = [r for r in run.summaries() if r["round"] == 0 and r["kind"] == "ticket"]
    assert evaluate(spec, final, data)[1] == pytest.approx(r0["final_test_acc"], abs=0.002)
