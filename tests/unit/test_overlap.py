"""Mask overlap against hand-counted masks."""

import pytest
import torch

from ticketlab.analysis.overlap import overlap


def test_jaccard_and_chance_on_constructed_masks() -> None:
    a = {"w": torch.tensor([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]).bool()}
    b = {"w": torch.tensor([0, 0, 1, 1, 1, 1, 0, 0, 0, 0]).bool()}
    per, total = overlap(a, b)
    # both: 2, either: 6, J = 1/3; chance: n k1 k2 = 10 x 0.4 x 0.4 = 1.6 over
    # n (k1 + k2 - k1 k2) = 10 x 0.64 = 6.4: 0.25.
    assert (per["w"].both, per["w"].either) == (2, 6)
    assert per["w"].jaccard == pytest.approx(1 / 3) and per["w"].chance == pytest.approx(0.25)
    assert total == per["w"]


def test_overall_sums_the_counts_over_tensors() -> None:
    a = {"x": torch.ones(4, dtype=torch.bool), "y": torch.tensor([1, 0, 0, 0]).bool()}
    b = {"x": torch.ones(4, dtype=torch.bool), "y": torch.tensor([0, 1, 0, 0]).bool()}
    per, total = overlap(a, b)
    assert per["x"].jaccard == 1.0 and per["y"].jaccard == 0.0
    assert (total.both, total.either) == (4, 6) and total.jaccard == pytest.approx(4 / 6)
    # chance: x: 4 x 1 x 1 = 4 over 4; y: 4 x 1/16 = 0.25 over 4 x 7/16 = 1.75
    assert total.chance == pytest.approx(4.25 / 5.75)
    with pytest.raises(ValueError, match="masks of shapes"):
        overlap({"x": torch.ones(3).bool()}, {"x": torch.ones(4).bool()})


def test_large_init_keeps_as_many_weights_per_tensor_of_largest_magnitude() -> None:
    from ticketlab.analysis.overlap import largest_like

    w = {"x": torch.tensor([0.1, -0.9, 0.5, -0.2]), "y": torch.tensor([[3.0, -1.0], [0.0, 2.0]])}
    m = {"x": torch.tensor([1, 1, 0, 0]).bool(), "y": torch.tensor([[0, 0], [0, 1]]).bool()}
    got = largest_like(w, m)
    assert got["x"].tolist() == [False, True, True, False]  # |-0.9| and |0.5|
    assert got["y"].tolist() == [[True, False], [False, False]]  # |3.0|


def test_keep_map_is_each_pixels_share_of_kept_outgoing_weights() -> None:
    from ticketlab.analysis.overlap import keep_map

    # 2 units over 1x2x2 images: pixel 0 kept by both, pixel 3 by none, 1 and 2 by one.
    mask = torch.tensor([[1, 1, 0, 0], [1, 0, 1, 0]]).bool()
    assert keep_map(mask, (1, 2, 2)).tolist() == [[1.0, 0.5], [0.5, 0.0]]
    # Two channels averaged: channel 1 keeps everything.
    both = torch.cat([mask, torch.ones(2, 4, dtype=torch.bool)], dim=1)
    assert keep_map(both, (2, 2, 2)).tolist() == [[1.0, 0.75], [0.75, 0.5]]
    with pytest.raises(ValueError, match=r"1x3x3 images need \[units, 9\]"):
        keep_map(mask, (1, 3, 3))
