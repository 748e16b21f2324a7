"""The width test's networks: Conv-N's width multiplier, the frozen draws' scales, and the
plans it refuses, and folders that are not parts of one test (the merge script)."""

import math

import pytest
import torch

from tests.helpers import load_script
from ticketlab.config import ModelConfig
from ticketlab.errors import ConfigError
from ticketlab.experiments.width import WidthPlan, cells, frozen_weights, hidden_units
from ticketlab.models.mlp import MLPSpec
from ticketlab.models.registry import architecture


def test_conv2_times_two_doubles_every_channel_and_hidden_unit() -> None:
    spec = architecture(ModelConfig(name="conv2", width=2), (3, 32, 32), 10)
    shapes = spec.shapes()
    names = spec.weight_names()
    # 3 -> 128 -> 128 channels, one 2x2 pool: 128 x 16 x 16 inputs to 512, 512, then 10.
    assert [shapes[k] for k in names] == [
        (128, 3, 3, 3),
        (128, 128, 3, 3),
        (512, 128 * 16 * 16),
        (512, 512),
        (10, 512),
    ]
    assert hidden_units(spec) == [128, 128, 512, 512]
    one = architecture(ModelConfig(name="conv2"), (3, 32, 32), 10)
    assert hidden_units(one) == [64, 64, 256, 256]


def test_frozen_weights_have_kaimings_scale_per_fan_in_and_zero_biases() -> None:
    spec = architecture(ModelConfig(name="conv2"), (3, 32, 32), 10)
    const = frozen_weights(spec, "signed_constant", 7)
    # A convolution's fan-in is its in-channels times the kernel's size: 3 x 3 x 3 = 27.
    assert torch.allclose(const["features.0.weight"].abs(), torch.tensor(math.sqrt(2 / 27)))
    assert torch.allclose(const["features.2.weight"].abs(), torch.tensor(math.sqrt(2 / 576)))
    assert torch.allclose(const["fc_out.weight"].abs(), torch.tensor(math.sqrt(2 / 256)))
    assert all(not const[k].any() for k in const if k.endswith("bias"))
    normal = frozen_weights(spec, "kaiming_normal", 7)
    # Same draw, so the signed constant keeps the normal draw's signs.
    assert torch.equal(normal["classifier.1.weight"].sign(), const["classifier.1.weight"].sign())
    big = normal["classifier.1.weight"]  # 256 x 16384 draws
    assert abs(big.std().item() / math.sqrt(2 / 16384) - 1) < 0.01
    mlp = frozen_weights(MLPSpec((784, 100, 10)), "signed_constant", 7)
    assert torch.allclose(mlp["fc1.weight"].abs(), torch.tensor(math.sqrt(2 / 784)))


def test_plans_the_width_test_cannot_run_are_refused() -> None:
    with pytest.raises(ConfigError, match="twice the depth is built for the MLP only"):
        cells(WidthPlan(model="conv2", deep_widths=(1,)))
    with pytest.raises(ConfigError, match="choose mlp or one of conv2"):
        cells(WidthPlan(model="lenet5"))
    conv = cells(WidthPlan(model="conv4", widths=(1, 2), deep_widths=()))
    # Conv-4 has 4 convolutions and 2 hidden linear layers: depth 6 at every width.
    assert {c.depth for c in conv if c.kind != "target"} == {6}


def test_two_parts_of_one_width_test_are_told_from_two_tests() -> None:
    """scripts/width_merge.py: parts may differ in their lists of cells and the logit fit;
    another setting, a commit the first folder never ran at, or an uncommitted tree (unless
    accepted) makes them two tests."""
    merge = load_script("width_merge")
    run = {"git_commit": "a", "git_dirty": False}
    first = {
        "train": {"lr": 1},
        "data": {},
        "plan": {"epochs": 20, "widths": [1, 2], "fit": True},
        "invocations": [run, {**run, "git_commit": "b"}],
    }
    second = {
        **first,
        "plan": {"epochs": 20, "widths": [8], "methods": ["biprop"], "fit": False},
        "invocations": [{**run, "git_commit": "b"}],
    }
    assert merge.problems(first, second) == []
    other = {
        **second,
        "train": {"lr": 2},
        "plan": {**second["plan"], "epochs": 5},
        "invocations": [{"git_commit": "c", "git_dirty": True}],
    }
    assert merge.problems(first, other) == [
        "their train differ",
        "their plans' epochs differ",
        "the second ran at commits the first never did (c)",
        "an invocation ran from a tree with uncommitted changes",
    ]
    assert len(merge.problems(first, other, dirty=True)) == 3
