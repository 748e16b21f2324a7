"""Saved final weights (experiment.save_weights) and the standalone evaluate() agree with
the records the trainers wrote, for the MLP's fast path and the generic trainer."""

from pathlib import Path

import pytest
from safetensors.torch import load_file

import ticketlab
from tests.helpers import TINY
from ticketlab.data.datasets import load_dataset
from ticketlab.experiments.lottery import TrainingKey
from ticketlab.models.registry import architecture
from ticketlab.store.rundir import weights_name
from ticketlab.train.evaluate import evaluate


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lenet_300_100", "tests.tinynets:bn_conv"])
def test_saved_weights_evaluate_to_the_recorded_accuracy(tmp_path: Path, model: str) -> None:
    overrides = [*TINY[1::2], "prune.rounds=1", f"model.name={model}"]
    cfg = ticketlab.load_config(preset_name="seed", overrides=overrides, seeds=[0])
    plain = ticketlab.load_config(
        preset_name="seed", overrides=[*overrides, "experiment.save_weights=true"], seeds=[0]
    )
    assert plain.identity_hash() == cfg.identity_hash()  # keeping weights changes no number
    run = ticketlab.run(plain, tmp_path / "run", make_figures=False, progress=False)
    data = load_dataset(plain.data, download=False)
    spec = architecture(plain.model, data.shape, data.num_classes)
    rows = run.summaries()
    assert len(rows) == 4  # 2 levels x (ticket, reinit)
    for r in rows:
        key = TrainingKey(
            r["round"], r["seed"], r["kind"], r["control"], r["dataset"], r["setting"]
        )
        weights = load_file(run.path / f"{weights_name(key)}.safetensors")
        loss, acc = evaluate(spec, weights, data, "test")
        assert acc == pytest.approx(r["final_test_acc"], abs=1e-6)  # recorded as float32
        assert loss == pytest.approx(r["final_test_loss"], rel=1e-4)
