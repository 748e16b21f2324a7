import pytest
import torch

from ticketlab.config import PruneConfig
from ticketlab.models.mlp import MLPSpec, init_params
from ticketlab.pruning.magnitude import (
    density,
    full_mask,
    layer_density,
    prune,
    prune_layerwise,
    random_mask_like,
)

SPEC = MLPSpec((784, 300, 100, 10))


def weights(seed: int = 0):
    return init_params(SPEC, "glorot_normal", seed)


def test_layerwise_removes_the_given_fraction_of_survivors_smallest_first() -> None:
    w, m = weights(), full_mask(SPEC)
    new = prune_layerwise(w, m, dict.fromkeys(m, 0.2))
    for name, mask in new.items():
        n = m[name].numel()
        assert int(mask.sum()) == n - round(0.2 * n)
        kept, dropped = w[name][mask].abs(), w[name][~mask].abs()
        assert dropped.max() <= kept.min()
    again = prune_layerwise(w, new, dict.fromkeys(m, 0.2))
    assert int(again["fc1.weight"].sum()) == 188160 - round(0.2 * 188160)


def test_schedule_reaches_p_final_after_n_rounds_per_layer() -> None:
    cfg = PruneConfig(p_final=0.01, rounds=20)
    w, m = weights(), full_mask(SPEC)
    for r in range(cfg.rounds):
        m = prune(weights(r), m, SPEC, cfg, seed=r)
    for name, d in layer_density(m).items():
        assert d == pytest.approx(0.01, abs=0.002), name
    assert density(m) == pytest.approx(0.01, abs=0.001)
    del w


def test_output_layer_rate() -> None:
    cfg = PruneConfig(p_final=None, rate=0.2, output_rate=0.1, rounds=1)
    m = prune(weights(), full_mask(SPEC), SPEC, cfg, seed=0)
    assert layer_density(m) == {"fc1.weight": 0.8, "fc2.weight": 0.8, "fc3.weight": 0.9}


@pytest.mark.parametrize("method", ["layerwise", "global", "random"])
def test_pruned_weights_never_come_back(method: str) -> None:
    cfg = PruneConfig(method=method, p_final=0.05, rounds=5)
    m = full_mask(SPEC)
    for r in range(5):
        # Fresh weights every round, as if training had regrown pruned positions.
        new = prune(weights(r + 10), m, SPEC, cfg, seed=r)
        for name in m:
            assert not (new[name] & ~m[name]).any(), f"{method}: a pruned weight came back"
        assert density(new) < density(m)
        m = new
    assert density(m) == pytest.approx(0.05, abs=0.01)


def test_global_pruning_uses_one_threshold_across_hidden_layers() -> None:
    cfg = PruneConfig(method="global", p_final=None, rate=0.5, rounds=1)
    w = weights()
    m = prune(w, full_mask(SPEC), SPEC, cfg, seed=0)
    kept = torch.cat([w[n][m[n]].abs() for n in ("fc1.weight", "fc2.weight")])
    dropped = torch.cat([w[n][~m[n]].abs() for n in ("fc1.weight", "fc2.weight")])
    assert dropped.max() <= kept.min()
    hidden = sum(int(m[n].sum()) for n in ("fc1.weight", "fc2.weight"))
    assert hidden == (235200 + 30000) // 2
    assert layer_density(m)["fc1.weight"] != layer_density(m)["fc2.weight"]


def test_ties_are_broken_deterministically_by_index() -> None:
    spec = MLPSpec((4, 2, 2))
    w = {"fc1.weight": torch.ones(2, 4), "fc2.weight": torch.ones(2, 2)}
    m = prune_layerwise(w, full_mask(spec), {"fc1.weight": 0.5, "fc2.weight": 0.5})
    assert m["fc1.weight"].flatten().tolist() == [False] * 4 + [True] * 4
    assert m["fc2.weight"].flatten().tolist() == [False, False, True, True]


def test_random_mask_like_keeps_per_layer_counts() -> None:
    m = prune(weights(), full_mask(SPEC), SPEC, PruneConfig(p_final=0.3, rounds=1), seed=0)
    r = random_mask_like(m, seed=1)
    assert {k: int(v.sum()) for k, v in r.items()} == {k: int(v.sum()) for k, v in m.items()}
    assert not torch.equal(r["fc1.weight"], m["fc1.weight"])
    assert torch.equal(r["fc1.weight"], random_mask_like(m, seed=1)["fc1.weight"])


def test_units_without_inputs_and_the_schedule_that_makes_them() -> None:
    from ticketlab.config import preset
    from ticketlab.pruning.magnitude import schedule_collapse, units_without_inputs

    m = full_mask(SPEC)
    m["fc3.weight"][2] = False  # class 2 cut off
    m["fc2.weight"][:5] = False
    assert units_without_inputs(m) == {"fc1.weight": 0, "fc2.weight": 5, "fc3.weight": 1}
    # seed: the 10x100 output layer keeps 20 weights at round 17 (2 per class)
    assert schedule_collapse(SPEC, preset("seed").prune) == {"fc3.weight": (17, 20)}
    # frankle-carbin prunes the output layer at 10% a round: 122 weights at round 20
    assert schedule_collapse(SPEC, preset("frankle-carbin").prune) == {}
    assert schedule_collapse(SPEC, PruneConfig(method="global")) == {}


@pytest.mark.parametrize("method", ["layerwise", "global"])
def test_imp_criteria_keep_the_counts_and_score_against_the_start(method: str) -> None:
    """large_init keeps the largest starting weights whatever training did; movement the
    weights that moved most; every criterion keeps large_final's counts (per layer, or under
    global the total and the separate output layer's) and never revives a pruned weight."""
    start, trained = weights(0), weights(1)
    cfg = PruneConfig(method=method, rate=0.5, p_final=None, rounds=2)
    first = prune(trained, full_mask(SPEC), SPEC, cfg, seed=0)
    counts = {n: int(m.sum()) for n, m in prune(trained, first, SPEC, cfg, 0).items()}
    for name in ("large_init", "movement", "magnitude_increase", "large_final_same_sign"):
        crit = PruneConfig(method=method, rate=0.5, p_final=None, rounds=2, criterion=name)
        new = prune(trained, first, SPEC, crit, seed=0, init=start)
        got = {n: int(m.sum()) for n, m in new.items()}
        if method == "layerwise":
            assert got == counts
        else:  # one threshold over the hidden layers: their total, and the output's own
            assert sum(got.values()) == sum(counts.values())
            assert got["fc3.weight"] == counts["fc3.weight"]
        assert all(not (new[n] & ~first[n]).any() for n in new)
        if name == "large_init" and method == "layerwise":
            w = start["fc1.weight"].abs()
            kept, dropped = w[new["fc1.weight"]], w[first["fc1.weight"] & ~new["fc1.weight"]]
            assert dropped.max() <= kept.min()
        if name == "movement" and method == "layerwise":
            moved = (trained["fc2.weight"] - start["fc2.weight"]).abs()
            kept = moved[new["fc2.weight"]]
            dropped = moved[first["fc2.weight"] & ~new["fc2.weight"]]
            assert dropped.max() <= kept.min()


def test_a_criterion_with_the_random_baseline_is_refused() -> None:
    from ticketlab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"does nothing with prune\.method random"):
        PruneConfig(method="random", criterion="movement").validate()
