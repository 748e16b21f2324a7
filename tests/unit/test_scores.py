"""Mask scores and selection against hand-computed cases."""

import math

import pytest
import torch

from ticketlab.models.mlp import MLPSpec
from ticketlab.pruning.scores import (
    criterion,
    grasp,
    inverted,
    keep_counts,
    select_global,
    select_layerwise,
    snip,
    synflow,
)

SPEC = MLPSpec((2, 2, 2))
# Hidden layer the identity, output [[1, 2], [0, -1]], zero biases; x = [1, 1], class 0:
# h = [1, 1], logits [3, -1], softmax p0 = 1 / (1 + e^-4).
PARAMS = {
    "fc1.weight": torch.eye(2),
    "fc1.bias": torch.zeros(2),
    "fc2.weight": torch.tensor([[1.0, 2.0], [0.0, -1.0]]),
    "fc2.bias": torch.zeros(2),
}
FULL = {
    "fc1.weight": torch.ones(2, 2, dtype=torch.bool),
    "fc2.weight": torch.ones(2, 2, dtype=torch.bool),
}
X, Y = torch.tensor([[1.0, 1.0]]), torch.tensor([0])


def test_snip_scores_on_a_two_layer_net_by_hand() -> None:
    d = 1 - 1 / (1 + math.exp(-4))  # dL/dlogit: [-d, +d]
    # dL/dW2 = [-d, d]^T h^T = [[-d, -d], [d, d]]; |g * w| = [[d, 2d], [0, d]].
    # dL/dh = W2^T [-d, d] = [-d, -3d]; dL/dW1 = that x^T; |g * w| on the identity: d, 3d.
    s = snip(SPEC.apply, PARAMS, FULL, X, Y)
    assert s["fc2.weight"] == pytest.approx(torch.tensor([[d, 2 * d], [0, d]]), abs=1e-6)
    assert s["fc1.weight"] == pytest.approx(torch.tensor([[d, 0], [0, 3 * d]]), abs=1e-6)


def test_grasp_is_weight_times_hessian_gradient_and_keeps_its_largest() -> None:
    torch.manual_seed(0)
    spec = MLPSpec((3, 4, 2))
    params = spec.init("pytorch_default", 1)
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    mask = {k: torch.ones_like(v, dtype=torch.bool) for k, v in params.items() if "weight" in k}
    names = list(mask)

    def loss(*ws: torch.Tensor) -> torch.Tensor:
        p = dict(params) | dict(zip(names, ws, strict=True))
        return torch.nn.functional.cross_entropy(spec.apply(p, x) / 200.0, y)

    flat = [params[n] for n in names]
    ws = [w.clone().requires_grad_() for w in flat]
    grads = torch.autograd.grad(loss(*ws), ws)
    # The Hessian-vector product, independently: torch.autograd.functional.hvp.
    _, hg = torch.autograd.functional.hvp(loss, tuple(flat), tuple(grads))
    s = grasp(spec.apply, params, mask, x, y)
    for n, h in zip(names, hg, strict=True):
        assert s[n] == pytest.approx(params[n] * h, rel=1e-4, abs=1e-12)
    # Wang et al. remove the largest -w * Hg: the weight kept last is the largest w * Hg.
    one = select_layerwise(s, mask, {n: 1 for n in names}, seed=0)
    for n in names:
        assert one[n].flatten()[s[n].flatten().argmax()]


def test_synflow_conserves_flow_through_each_hidden_layer_and_needs_no_data() -> None:
    spec = MLPSpec((4, 3, 5, 2))
    params = spec.init("glorot_normal", 3)  # zero biases
    mask = {k: torch.ones_like(v, dtype=torch.bool) for k, v in params.items() if "weight" in k}
    s = synflow(spec.apply, params, mask, (4,))
    sums = [float(s[f"fc{i}.weight"].sum()) for i in (1, 2, 3)]
    assert sums[0] == pytest.approx(sums[1]) and sums[1] == pytest.approx(sums[2])
    # Data-free: an all-ones input and the weights alone decide it, call after call.
    again = synflow(spec.apply, params, mask, (4,))
    assert all(torch.equal(s[k], again[k]) for k in s)


def test_synflow_does_not_overflow_where_float32_would() -> None:
    spec = MLPSpec((2, *([2] * 40), 2))
    params = {
        k: torch.full_like(v, 20.0) if "weight" in k else torch.zeros_like(v)
        for k, v in spec.init("glorot_normal", 0).items()
    }
    mask = {k: torch.ones_like(v, dtype=torch.bool) for k, v in params.items() if "weight" in k}
    s = synflow(spec.apply, params, mask, (2,))  # R ~ 2 * 40^41: beyond float32's 3.4e38
    assert all(torch.isfinite(v).all() for v in s.values())


def test_criteria_on_small_tensors() -> None:
    wi = {"w": torch.tensor([0.5, -0.2, 0.3, -0.4])}
    wf = {"w": torch.tensor([0.1, 0.6, -0.3, -0.9])}
    got = {
        c: criterion(c, wf, wi)["w"].tolist()
        for c in (
            "large_final",
            "magnitude_increase",
            "movement",
            "large_init",
            "large_final_same_sign",
        )
    }
    assert got["large_final"] == pytest.approx([0.1, 0.6, 0.3, 0.9])
    assert got["magnitude_increase"] == pytest.approx([-0.4, 0.4, 0.0, 0.5])
    assert got["movement"] == pytest.approx([0.4, 0.8, 0.6, 0.5])
    assert got["large_init"] == pytest.approx([0.5, 0.2, 0.3, 0.4])
    assert got["large_final_same_sign"] == pytest.approx([0.1, 0.0, 0.0, 0.9])
    with pytest.raises(ValueError, match="unknown criterion"):
        criterion("bogus", wf, wi)


def test_ties_are_broken_at_random_by_the_seed_and_counts_are_exact() -> None:
    scores = {"w": torch.zeros(100)}
    mask = {"w": torch.ones(100, dtype=torch.bool)}
    a = select_layerwise(scores, mask, {"w": 10}, seed=1)
    b = select_layerwise(scores, mask, {"w": 10}, seed=1)
    c = select_layerwise(scores, mask, {"w": 10}, seed=2)
    assert torch.equal(a["w"], b["w"]) and not torch.equal(a["w"], c["w"])
    assert int(a["w"].sum()) == 10 and not a["w"][:10].all()  # not the first ten by position


def test_a_pruned_weight_is_never_revived_and_inverted_keeps_the_counts() -> None:
    scores = {"x": torch.tensor([9.0, 1.0, 2.0, 3.0]), "y": torch.tensor([5.0, 4.0, 0.0, 1.0])}
    mask = {"x": torch.tensor([False, True, True, True]), "y": torch.ones(4, dtype=torch.bool)}
    counts = keep_counts(mask, 0.5)
    assert counts == {"x": 2, "y": 2}
    top = select_layerwise(scores, mask, counts, seed=0)
    assert top["x"].tolist() == [False, False, True, True]  # 9.0 was pruned: stays pruned
    low = select_layerwise(inverted(scores), mask, counts, seed=0)
    assert low["x"].tolist() == [False, True, True, False] and low["y"].tolist() == [
        False,
        False,
        True,
        True,
    ]
    pooled = select_global(scores, mask, 3, seed=0)
    assert pooled["x"].tolist() == [False, False, False, True]
    assert pooled["y"].tolist() == [True, True, False, False]


def test_the_config_names_every_built_in_source() -> None:
    from ticketlab.config.schema import MASK_SOURCES
    from ticketlab.pruning.sources import SOURCES

    assert tuple(SOURCES) == MASK_SOURCES


@pytest.mark.parametrize("name", ["snip", "grasp", "synflow", "magnitude"])
def test_sources_prune_a_conv_net_with_batch_norm_to_exact_counts(name: str) -> None:
    """Through the module path (functional_call, batch norm in eval mode): every source
    finds a mask of the asked per-tensor counts for a conv net, pruned weights stay out."""
    from ticketlab.config import ModelConfig
    from ticketlab.models.registry import architecture
    from ticketlab.pruning.magnitude import full_mask
    from ticketlab.pruning.sources import Context, find_mask, mask_source

    spec = architecture(ModelConfig(name="resnet8"), (3, 32, 32), 10)
    params = spec.init("kaiming_normal", 0)
    full = full_mask(spec)
    counts = {k: max(1, m.numel() // 10) for k, m in full.items()}
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 3, 32, 32, generator=g), torch.arange(20) % 10
    ctx = Context(spec.apply, params, (3, 32, 32), x, y, seed=1)
    source = mask_source(name)
    if name == "synflow":
        source = type(source)(iterations=5)  # the schedule, shortened for the test
    found = find_mask(source, ctx, full, counts, "layerwise", list(full))
    assert {k: int(m.sum()) for k, m in found.mask.items()} == counts
    assert found.passes == (5 if name == "synflow" else 1)
