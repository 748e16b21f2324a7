"""Any architecture: conv nets with batch norm through the cohort trainer, pruning of any
weight tensor, the training features published settings need, a user's own module through
IMP, and the refusals of what cannot work."""

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import ticketlab
from tests.helpers import TINY
from ticketlab.cli import main
from ticketlab.config import PRESETS, ModelConfig, PruneConfig, TrainConfig, preset
from ticketlab.data.datasets import Dataset
from ticketlab.errors import ConfigError
from ticketlab.models.registry import ModuleSpec, architecture
from ticketlab.pruning.magnitude import full_mask, layer_rates, prune
from ticketlab.train.cohort import Member, Progress, train_cohort
from ticketlab.train.modules import AUGMENT_SALT, _Augment
from ticketlab.train.optim import lr_factor

CPU = torch.device("cpu")
F64 = torch.float64
BN_CONV = ModelConfig(name="tests.tinynets:bn_conv")


def bn_conv(data: Dataset) -> ModuleSpec:
    spec = architecture(BN_CONV, data.shape, data.num_classes)
    assert isinstance(spec, ModuleSpec)
    return spec


def pruned_members(spec: ModuleSpec, data: Dataset, n: int) -> list[Member]:
    """Member i pruned i times (different masks), each with its own init and data order."""
    out = []
    for i in range(n):
        mask = full_mask(spec)
        for r in range(i):
            weights = spec.init("kaiming_normal", 100 + r)
            mask = prune(weights, mask, spec, PruneConfig(p_final=None, rate=0.5), seed=r)
        out.append(Member(spec.init("kaiming_normal", i), mask, data, data_seed=7 * i))
    return out


SGD_ALL = TrainConfig(
    optimizer="sgd",
    lr=0.05,
    momentum=0.9,
    weight_decay=5e-3,
    batch_size=32,
    steps=24,
    eval_every=10,
    milestones=[0.5],
    warmup_steps=4,
    augment="crop_flip",
    crop_pad=2,
)


def test_crop_and_flip_is_each_example_padded_with_zeros_cropped_and_maybe_flipped() -> None:
    """The cohort's one-gather augmentation against the textbook per-example recipe, with
    the same draws: pad by ``pad`` zeros, cut the image at (dy, dx), flip on odd draws."""
    members = [Member({}, {}, None, data_seed=s) for s in (3, 11)]  # type: ignore[arg-type]
    pad, x = 3, torch.randn(2, 5, 2, 7, 6)
    out = _Augment(members, pad, CPU)(x)
    gens = [torch.Generator().manual_seed(s ^ AUGMENT_SALT) for s in (3, 11)]
    for i, g in enumerate(gens):
        dy, dx, flip = torch.randint(0, 2 * pad + 1, (3, 5), generator=g)
        for j in range(5):
            img = torch.nn.functional.pad(x[i, j], (pad,) * 4)[:, dy[j] :, dx[j] :][:, :7, :6]
            assert torch.equal(out[i, j], img.flip(-1) if flip[j] % 2 else img)


@pytest.mark.parametrize("batching", ["loop", "vmap"])
def test_a_conv_cohort_with_batch_norm_and_augmentation_equals_each_alone(
    mnist_small: Dataset, batching: str
) -> None:
    # float64 for the same reason as the MLP's cohort test: rounding far below any coupling.
    spec = bn_conv(mnist_small)
    ms = pruned_members(spec, mnist_small, 3)
    together = train_cohort(ms, spec, SGD_ALL, CPU, dtype=F64, batching=batching)
    for m, res in zip(ms, together, strict=True):
        (alone,) = train_cohort([m], spec, SGD_ALL, CPU, dtype=F64, batching=batching)
        assert set(res.weights) == set(spec.shapes())  # batch-norm statistics come back too
        for k in res.weights:
            torch.testing.assert_close(res.weights[k], alone.weights[k], rtol=1e-9, atol=1e-10)
        assert [e.step for e in res.evals] == [0, 10, 20, 24]
        for a, b in zip(res.evals, alone.evals, strict=True):
            assert a.test_acc == b.test_acc
            assert a.val_loss == pytest.approx(b.val_loss, rel=1e-9)
    # The members differ (own masks, inits, data orders, augmentation draws, statistics).
    means = [r.weights["1.running_mean"] for r in together]
    assert not torch.equal(means[0], means[1])


def test_pruned_weights_stay_zero_under_momentum_and_weight_decay(mnist_small: Dataset) -> None:
    spec = bn_conv(mnist_small)
    (m,) = pruned_members(spec, mnist_small, 3)[2:]
    (res,) = train_cohort([m], spec, SGD_ALL, CPU)
    for k, mask in m.mask.items():
        assert not mask.all()
        assert torch.count_nonzero(res.weights[k][~mask]) == 0, k
        assert torch.count_nonzero(res.weights[k][mask]) == int(mask.sum()), k
    assert res.final.sign_flip > 0  # the kept weights did train


def test_training_resumes_nothing_and_reruns_exactly(mnist_small: Dataset) -> None:
    spec = bn_conv(mnist_small)
    ms = pruned_members(spec, mnist_small, 2)
    a = train_cohort(ms, spec, SGD_ALL, CPU)
    b = train_cohort(ms, spec, SGD_ALL, CPU)
    for x, y in zip(a, b, strict=True):
        for k in x.weights:
            assert torch.equal(x.weights[k], y.weights[k])


def test_the_learning_rate_schedule() -> None:
    cfg = TrainConfig(lr=0.1, milestones=[2, 3], gamma=0.1, warmup_steps=4)
    factors = [lr_factor(cfg, 5, s) for s in range(20)]  # 5 steps an epoch
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4:10] == pytest.approx([1.0] * 6)
    assert factors[10:15] == pytest.approx([0.1] * 5)  # epoch 2
    assert factors[15:] == pytest.approx([0.01] * 5)  # epoch 3
    assert lr_factor(TrainConfig(), 5, 1000) == 1.0


def test_pruning_a_conv_net_by_layer_kind_with_ignored_layers() -> None:
    spec = architecture(ModelConfig(name="conv2"), (3, 32, 32), 10)
    assert [spec.kind(n) for n in spec.weight_names()] == ["conv", "conv", "fc", "fc", "output"]
    fc = preset("frankle-carbin-conv2").prune
    assert list(layer_rates(spec, fc).values()) == [0.1, 0.1, 0.2, 0.2, 0.1]
    weights = spec.init("glorot_normal", 0)
    mask = prune(weights, full_mask(spec, fc), spec, fc, seed=0)
    for name, m in mask.items():
        want = math.floor((1 - layer_rates(spec, fc)[name]) * m.numel() + 0.5)
        assert abs(int(m.sum()) - want) <= 1, name

    ignore = PruneConfig(
        method="global", p_final=None, rate=0.5, output="ignore", ignore=["features.0.weight"]
    )
    mask = full_mask(spec, ignore)
    assert sorted(mask) == ["classifier.1.weight", "classifier.3.weight", "features.2.weight"]
    new = prune(weights, mask, spec, ignore, seed=0)
    kept = sum(int(m.sum()) for m in new.values())
    assert kept == sum(m.numel() for m in mask.values()) // 2
    smallest_kept = min(weights[k][new[k]].abs().min() for k in new)
    largest_cut = max(weights[k][~new[k]].abs().max() for k in new)
    assert smallest_kept >= largest_cut  # one threshold over the pooled layers


def test_a_resnet_pools_its_output_layer_under_global_pruning() -> None:
    cfg = preset("openlth-resnet20")
    spec = architecture(cfg.model, (3, 32, 32), 10)
    mask = full_mask(spec, cfg.prune)
    assert spec.output_name() == "fc.weight" and "fc.weight" in mask
    # By hand: stem 432, stage convs 13,824 + 50,688 + 202,752, shortcuts 512 + 2,048, fc 640.
    assert sum(m.numel() for m in mask.values()) == 270_896
    assert "fc.weight" not in full_mask(spec, preset("openlth-vgg16").prune)


def test_every_preset_validates_and_builds_its_model() -> None:
    for name in PRESETS:
        cfg = preset(name)
        shape = (3, 32, 32) if cfg.data.input == "native" else (1, 28, 28)
        spec = architecture(cfg.model, shape, 10)
        full_mask(spec, cfg.prune)


def test_shapes_that_do_not_fit_are_refused_before_training(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not fit inputs of shape \(1, 4, 4\)"):
        architecture(ModelConfig(name="conv6"), (1, 4, 4), 10)
    with pytest.raises(ConfigError, match="the dataset has 3 classes"):
        architecture(ModelConfig(name="tests.tinynets:plain"), (1, 28, 28), 3)
    with pytest.raises(ConfigError, match="cannot import 'no_such_pkg'"):
        architecture(ModelConfig(name="no_such_pkg:net"), (1, 28, 28), 10)
    args = ["run", "--preset", "quick-conv", "--set", "transfer.datasets=[mnist]"]
    assert main([*args, "--out", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r" / "metrics.sqlite").exists()


@pytest.mark.slow
def test_a_users_own_module_runs_through_imp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    args = [
        "run",
        "--preset",
        "seed",
        *TINY,
        "--set",
        "model.name=tests.tinynets:bn_conv",
        "--set",
        "experiment.controls=[reinit, signed_reinit]",
        "--set",
        "transfer.datasets=[fashion_mnist]",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    rows = ticketlab.RunDir.open(out).summaries()
    assert {(r["round"], r["control"]) for r in rows} >= {(2, None), (2, "signed_reinit")}
    assert {r["dataset"] for r in rows} == {"mnist", "fashion_mnist"}
    final = [r for r in rows if r["round"] == 2 and r["control"] is None]
    assert final[0]["weights_remaining"] == pytest.approx(0.25, abs=0.01)
    dense = [r for r in rows if r["round"] == 0 and r["dataset"] == "mnist"]
    assert min(r["es_test_acc"] for r in dense) > 0.25  # it learned (chance: 0.1) in 20 steps
    meta = json.loads((out / "run.json").read_text())
    assert meta["model"]["name"] == "tests.tinynets:bn_conv"
    assert len(meta["model"]["signature"]) == 12
    assert main(["report", str(out)]) == 0
    capsys.readouterr()
    assert main(args) == 0  # finished: nothing to do


def test_a_changed_module_is_not_resumed_into_an_old_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    args = ["run", "--preset", "seed", *TINY, "--set", "model.name=tests.tinynets:bn_conv"]
    args += ["--set", "prune.rounds=1", "--set", "train.epochs=1", "--out", str(out), "--quiet"]
    assert main(args) == 0

    def wider(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))

    monkeypatch.setattr("tests.tinynets.bn_conv", wider)
    capsys.readouterr()
    assert main([*args, "--seeds", "0", "1"]) == 2  # more seeds: the run trains again
    assert "its parameters' names and shapes changed" in capsys.readouterr().err


def test_the_api_takes_a_factory_and_records_its_import_path(tmp_path: Path) -> None:
    from tests.tinynets import bn_conv as factory

    cfg = ticketlab.load_config(preset_name="seed", overrides=[*TINY[1::2], "prune.rounds=1"])
    cfg.train.epochs = 1
    run = ticketlab.run(cfg, out=tmp_path / "api", model=factory, progress=False)
    assert run.config.model.name == "tests.tinynets:bn_conv"
    with pytest.raises(ConfigError, match="cannot be recorded by import path"):
        ticketlab.run(cfg, out=tmp_path / "no", model=lambda: nn.Linear(784, 10))


class Interrupt(Exception):
    pass


def test_a_training_interrupted_mid_way_resumes_from_its_checkpoint(
    mnist_small: Dataset, tmp_path: Path
) -> None:
    spec = bn_conv(mnist_small)
    ms = pruned_members(spec, mnist_small, 2)
    for m in ms:
        m.capture_step = 3  # late-resetting weights survive the interruption too
    straight = train_cohort(ms, spec, SGD_ALL, CPU)
    store = ticketlab.RunDir.create(tmp_path / "run", preset("seed"))
    checkpoint = store.checkpoint("cohort")

    def stop_at_20(p: Progress) -> None:
        if p.step == 20:  # the evaluation at step 20: checkpoints were saved up to step 19
            raise Interrupt

    with pytest.raises(Interrupt):
        train_cohort(ms, spec, SGD_ALL, CPU, stop_at_20, checkpoint, checkpoint_every_s=0)
    saved = checkpoint.load()
    assert saved is not None and saved["step"] == 19
    resumed = train_cohort(ms, spec, SGD_ALL, CPU, checkpoint=checkpoint, checkpoint_every_s=0)
    for a, b in zip(straight, resumed, strict=True):
        for k in a.weights:
            assert torch.equal(a.weights[k], b.weights[k]), k
        assert a.captured is not None and b.captured is not None
        assert all(torch.equal(a.captured[k], b.captured[k]) for k in a.captured)
        assert a.evals == b.evals
    checkpoint.clear()
    assert not list((tmp_path / "run").rglob("*.pt"))


def test_data_that_do_not_fit_the_device_are_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("ticketlab.device.available_memory", lambda device: 2**20)
    out = tmp_path / "r"
    assert main(["run", "--preset", "seed", *TINY, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "MiB on cpu (mnist" in err and "1 MiB are available" in err
    assert not ticketlab.RunDir.open(out).completed()


def test_bn_l1_moves_each_batch_norm_scale_by_lr_times_lambda_against_its_sign(
    mnist_small: Dataset,
) -> None:
    """One plain SGD step: with the penalty, each gamma ends lr x lambda x sign(gamma) below
    where it ends without; nothing else changes (the term is in gamma's gradient only)."""
    spec = bn_conv(mnist_small)
    (m,) = pruned_members(spec, mnist_small, 1)
    plain = TrainConfig(optimizer="sgd", lr=0.1, batch_size=32, steps=1, eval_every=1)
    (a,) = train_cohort([m], spec, plain, CPU, dtype=F64)
    (b,) = train_cohort([m], spec, dataclasses.replace(plain, bn_l1=0.01), CPU, dtype=F64)
    gamma = "1.weight"  # the BatchNorm2d of tests.tinynets.bn_conv
    start = m.init[gamma].to(F64)
    assert (start != 0).all()
    expected = a.weights[gamma] - 0.1 * 0.01 * start.sign()
    assert torch.allclose(b.weights[gamma], expected, rtol=0, atol=1e-12)
    assert not torch.equal(a.weights[gamma], b.weights[gamma])
    for k in a.weights:
        if k != gamma:
            assert torch.equal(a.weights[k], b.weights[k]), k
    assert "bn-l1 0.01" in dataclasses.replace(plain, bn_l1=0.01).label()


def test_bn_l1_on_a_net_without_batch_norm_is_refused(
    mnist_small: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the run writes anything, so the corrected command takes the directory over;
    the trainers refuse it too (for callers of the API)."""
    args = ["run", "--preset", "seed", *TINY, "--out", str(tmp_path / "r"), "--quiet"]
    capsys.readouterr()
    assert main([*args, "--set", "train.bn_l1=1e-4"]) == 2
    assert "lenet_300_100 has no batch norm" in capsys.readouterr().err
    assert not list((tmp_path / "r").rglob("*.safetensors"))
    assert main([*args, "--set", "prune.rounds=1"]) == 0
    cfg = TrainConfig(optimizer="sgd", lr=0.1, batch_size=32, steps=1, bn_l1=1e-4)
    for model in (ModelConfig(), ModelConfig(name="tests.tinynets:plain")):
        spec = architecture(model, mnist_small.shape, mnist_small.num_classes)
        members = [Member(spec.init("pytorch_default", 0), full_mask(spec), mnist_small, 0)]
        with pytest.raises(ConfigError, match="no batch norm"):
            train_cohort(members, spec, cfg, CPU)
