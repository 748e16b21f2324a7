"""Early-bird stopping rules and PrAC's critical set against constructed cases."""

import torch
from torch import nn

from ticketlab.config import TrainConfig
from ticketlab.data.datasets import Dataset, Split
from ticketlab.experiments.searches import on_examples, shortened
from ticketlab.pruning.earlybird import (
    ChannelRule,
    WeightRule,
    bn_after_conv,
    channel_mask,
    channel_weight_mask,
)
from ticketlab.pruning.prac import critical_set, disagreement, forgetting, scaled


def _mask(flips: int, n: int = 100) -> dict[str, torch.Tensor]:
    m = torch.ones(n, dtype=torch.bool)
    m[:flips] = False
    return {"w": m}


def test_the_weight_rule_draws_after_five_small_changes_in_a_row() -> None:
    """Candidates over 100 remaining weights: distances 0.30, 0.20, 0.02 x 5 -> drawn at
    the epoch of the fifth small change (epoch 7, counting the first candidate as 0)."""
    rule = WeightRule(remaining=100)
    sizes = [0, 30, 10, 12, 14, 16, 18, 20]  # differing counts: 30, 20, 2, 2, 2, 2, 2
    drawn = [rule.update(_mask(s)) for s in sizes]
    assert drawn == [False] * 7 + [True]
    assert [round(d, 2) for d in rule.distances] == [0.3, 0.2, 0.02, 0.02, 0.02, 0.02, 0.02]
    # One change of eps or more restarts the count.
    late = WeightRule(remaining=100)
    assert not any(late.update(_mask(s)) for s in [0, 2, 4, 6, 14, 16, 18, 20, 22])
    assert late.update(_mask(24))


def test_the_channel_rule_draws_when_the_newest_is_within_a_tenth_of_the_four_before() -> None:
    rule = ChannelRule()
    base = torch.ones(20, dtype=torch.bool)
    masks = []
    for flips in (10, 6, 2, 1, 1, 0):
        m = base.clone()
        m[:flips] = False
        masks.append({"bn": m})
    drawn = [rule.update(m) for m in masks]
    # 5th mask (1 channel off) against the 1st (10 off): 0.45 apart; 6th (0 off) against
    # the 2nd of its window (6 off): 0.3 apart. Neither is drawn.
    assert drawn == [False] * 6
    # 7th (0 off): its window holds 2, 1, 1, 0 off before it, at most 0.1 apart: drawn,
    # 0.1 counting as within (the authors' code draws unless a distance exceeds 0.1).
    assert rule.update({"bn": base.clone()})


def test_channel_masks_over_all_batch_norm_layers_and_their_filters() -> None:
    gammas = {"a": torch.tensor([0.5, -0.1, 0.3]), "b": torch.tensor([0.05, 0.9])}
    keep = channel_mask(gammas, 0.4)  # 2 of 5 channels pruned: |0.05| and |-0.1|
    assert keep["a"].tolist() == [True, False, True] and keep["b"].tolist() == [False, True]
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2)
    )
    pairs = bn_after_conv(net)
    assert pairs == {"1": "0.weight", "4": "3.weight"}
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    w = channel_weight_mask({"1": keep["a"], "4": keep["b"]}, pairs, shapes)
    assert (
        w["0.weight"].shape == (3, 1, 3, 3)
        and not w["0.weight"][1].any()
        and w["0.weight"][0].all()
    )
    assert not w["3.weight"][0].any() and w["3.weight"][1].all()


def test_prac_critical_set_from_a_forgetting_record() -> None:
    # 4 epochs x 5 examples: 0 learned and kept; 1 forgotten once; 2 never learned;
    # 3 forgotten twice; 4 learned late and kept.
    correct = torch.tensor(
        [
            [1, 1, 0, 1, 0],
            [1, 0, 0, 0, 0],
            [1, 1, 0, 1, 1],
            [1, 1, 0, 0, 1],
        ]
    ).bool()
    events, never = forgetting(correct)
    assert events.tolist() == [0, 1, 0, 2, 0] and never.tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]
    assert critical_set(correct).tolist() == [1, 2, 3]
    # After the dense round: the dense and the pruned network disagree on example 4.
    dis = disagreement(torch.tensor([3, 1, 2, 0, 7]), torch.tensor([3, 1, 2, 0, 5]))
    assert dis.tolist() == [4]
    assert critical_set(correct, dis).tolist() == [1, 2, 3, 4]


def test_prac_positions_follow_the_split_not_the_source_order() -> None:
    """A non-identity split: the trainer reads source examples 7, 2, 9, 4 at positions 0-3.
    The record is kept by position, so the critical set names positions, and mapping them
    through the split gives the source examples."""
    split = torch.tensor([7, 2, 9, 4])
    correct = torch.tensor([[1, 1, 0, 1], [1, 0, 0, 1]]).bool()  # positions 1 and 2 critical
    positions = critical_set(correct)
    assert positions.tolist() == [1, 2] and split[positions].tolist() == [2, 9]


def test_prac_rounds_are_shortened_in_proportion() -> None:
    assert scaled(10, [5.0, 8.0], 300, 1000) == (3, [1.5, 2.4])
    assert scaled(10, [], 10, 1000) == (1, [])


def test_a_prac_round_trains_on_exactly_the_critical_rows_for_fewer_steps() -> None:
    """Positions 1 and 3 of a training split whose rows are labelled by their position:
    the round reads those two rows, with the dataset's statistics and other splits."""
    x = torch.arange(5, dtype=torch.uint8).view(5, 1).expand(5, 4).contiguous()
    other = Split(x[:1], torch.zeros(1, dtype=torch.long))
    ds = Dataset("d", Split(x, torch.arange(5)), other, other, 2.0, 1.5, 5, (1, 2, 2))
    sub = on_examples(ds, torch.tensor([1, 3]))
    assert sub.train.y.tolist() == [1, 3] and sub.train.x[:, 0].tolist() == [1, 3]
    assert (sub.mean, sub.std, sub.val, sub.shape) == (2.0, 1.5, other, (1, 2, 2))
    epochs = TrainConfig(epochs=10, milestones=[5.0, 8.0], batch_size=100)
    assert (shortened(epochs, 300, 1000).epochs, shortened(epochs, 300, 1000).milestones) == (
        3,
        [1.5, 2.4],
    )
    steps = TrainConfig(steps=1000, milestones=[2.0])
    assert (shortened(steps, 301, 1000).steps, shortened(steps, 301, 1000).milestones) == (
        301,
        [2.0],
    )
