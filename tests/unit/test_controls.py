"""Each control's initial weights have the properties that define it."""

import pytest
import torch

from ticketlab.experiments.controls import make_control
from ticketlab.models.mlp import MLPSpec, init_params
from ticketlab.pruning.magnitude import full_mask

SPEC = MLPSpec((784, 300, 100, 10))


def ticket_and_mask() -> tuple[dict, dict, dict]:
    ticket = init_params(SPEC, "pytorch_default", 0)
    g = torch.Generator().manual_seed(2)
    mask = {k: torch.rand(v.shape, generator=g) < 0.2 for k, v in full_mask(SPEC).items()}
    fresh = init_params(SPEC, "pytorch_default", 99)
    return ticket, mask, fresh


def test_signed_reinit_keeps_signs_and_takes_fresh_magnitudes() -> None:
    ticket, mask, fresh = ticket_and_mask()
    init, cmask = make_control("signed_reinit", ticket, mask, fresh, 5)
    assert cmask is mask
    for k, m in mask.items():
        assert torch.equal(init[k][m].sign(), ticket[k][m].sign())
        assert torch.equal(init[k][m].abs(), fresh[k][m].abs())
        assert not torch.equal(init[k][m], ticket[k][m])
    assert torch.equal(init["fc1.bias"], fresh["fc1.bias"])  # biases as in reinit


def test_signed_constant_is_sign_times_the_tensor_std() -> None:
    ticket, mask, fresh = ticket_and_mask()
    init, _ = make_control("signed_constant", ticket, mask, fresh, 5)
    for k, m in mask.items():
        std = ticket[k].std(correction=0)
        assert torch.equal(init[k][m].sign(), ticket[k][m].sign())
        assert torch.allclose(init[k][m].abs(), std.expand(int(m.sum())))
    # pytorch_default: U(-b, b) has std b / sqrt(3), b = 1 / sqrt(fan_in)
    first = init["fc1.weight"][mask["fc1.weight"]].abs()[0].item()
    assert first == pytest.approx(1 / (784**0.5 * 3**0.5), rel=0.01)
    assert torch.equal(init["fc2.bias"], fresh["fc2.bias"])


def test_reshuffle_permutes_the_kept_values_within_each_tensor() -> None:
    ticket, mask, fresh = ticket_and_mask()
    init, _ = make_control("reshuffle", ticket, mask, fresh, 5)
    for k, m in mask.items():
        assert torch.equal(init[k][m].sort().values, ticket[k][m].sort().values)
        assert (init[k][m] != ticket[k][m]).float().mean() > 0.9
    again, _ = make_control("reshuffle", ticket, mask, fresh, 5)
    other, _ = make_control("reshuffle", ticket, mask, fresh, 6)
    assert torch.equal(again["fc1.weight"], init["fc1.weight"])
    assert not torch.equal(other["fc1.weight"], init["fc1.weight"])
    assert torch.equal(init["fc3.bias"], fresh["fc3.bias"])


def test_reinit_and_random_mask() -> None:
    ticket, mask, fresh = ticket_and_mask()
    init, cmask = make_control("reinit", ticket, mask, fresh, 5)
    assert init is fresh and cmask is mask
    init, cmask = make_control("random_mask", ticket, mask, fresh, 5)
    assert init is ticket
    for k, m in mask.items():
        assert int(cmask[k].sum()) == int(m.sum()) and not torch.equal(cmask[k], m)


def test_signed_reshuffle_keeps_every_sign_and_the_multiset_of_magnitudes() -> None:
    ticket, mask, fresh = ticket_and_mask()
    init, cmask = make_control("signed_reshuffle", ticket, mask, fresh, 5)
    assert cmask is mask
    for k, m in mask.items():
        assert torch.equal(init[k][m].sign(), ticket[k][m].sign())  # the sign at each place
        assert torch.equal(init[k][m].abs().sort().values, ticket[k][m].abs().sort().values)
        assert not torch.equal(init[k][m], ticket[k][m])  # the magnitudes moved
    again, _ = make_control("signed_reshuffle", ticket, mask, fresh, 5)
    assert all(torch.equal(again[k], init[k]) for k in init)  # seeded


def test_scaled_reinit_has_the_tickets_kept_rms() -> None:
    ticket, mask, fresh = ticket_and_mask()
    init, cmask = make_control("scaled_reinit", ticket, mask, fresh, 5)
    assert cmask is mask
    for k, m in mask.items():
        want = ticket[k][m].square().mean().sqrt()
        assert init[k][m].square().mean().sqrt() == pytest.approx(want.item(), rel=1e-6)
        ratio = init[k][m] / fresh[k][m]  # one factor per tensor: the fresh draw rescaled
        assert torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-5)
    assert torch.equal(init["fc1.bias"], fresh["fc1.bias"])
