import math

import pytest
import torch

from geo3d.structures import (
    box_corners,
    count_points_in_boxes,
    packed_to_padded,
    padded_to_packed,
    points_in_boxes,
)


def test_corners_of_a_rotated_box_hand_checked():
    box = torch.tensor([[1.0, 2.0, 3.0, 4.0, 2.0, 1.0, math.pi / 2]])
    corners = box_corners(box)[0]
    # Heading pi/2: the length (4) runs along +y, the width (2) along -x.
    expected_first = torch.tensor([1.0 - 1.0, 2.0 + 2.0, 2.5])  # (+dx/2, +dy/2) corner, bottom
    assert torch.allclose(corners[0], expected_first, atol=1e-6)
    assert torch.allclose(corners[4], expected_first + torch.tensor([0, 0, 1.0]), atol=1e-6)
    assert torch.allclose(corners.mean(0), box[0, :3], atol=1e-6)


def test_points_in_boxes_hand_checked_and_rotation():
    boxes = torch.tensor([[0.0, 0, 0, 4, 1, 2, 0], [0.0, 0, 0, 4, 1, 2, math.pi / 2]])
    points = torch.tensor([[1.9, 0, 0], [0, 1.9, 0], [0, 0, 1.0], [0, 0, 1.01], [2.0, 0.5, 0]])
    inside = points_in_boxes(points, boxes)
    assert inside.tolist() == [
        [True, False],
        [False, True],
        [True, True],
        [False, False],
        [True, False],
    ]
    assert count_points_in_boxes(points, boxes, chunk=2).tolist() == [3, 2]


def test_points_in_boxes_matches_corner_test_on_random_boxes():
    g = torch.Generator().manual_seed(0)
    boxes = torch.cat(
        [
            torch.randn(20, 3, generator=g),
            torch.rand(20, 3, generator=g) + 0.5,
            torch.rand(20, 1, generator=g) * 6.28,
        ],
        dim=1,
    ).double()
    points = torch.randn(2000, 3, generator=g, dtype=torch.float64) * 2
    inside = points_in_boxes(points, boxes)
    # Independent rule: inside iff on the inner side of all 6 faces, from the corners.
    corners = box_corners(boxes)
    for m in range(20):
        c = corners[m]
        u, v, w = c[3] - c[0], c[1] - c[0], c[4] - c[0]  # along -dy, -dx, +dz from corner 0
        rel = points - c[0]
        checks = [(rel @ e) for e in (u, v, w)]
        lengths = [e.dot(e) for e in (u, v, w)]
        manual = torch.stack([(x >= -1e-9) & (x <= n + 1e-9) for x, n in zip(checks, lengths)]).all(
            0
        )
        assert torch.equal(manual, inside[:, m])


@pytest.mark.parametrize(
    "bad",
    [
        torch.zeros(3, 6),
        torch.zeros(3, 7, dtype=torch.long),
        torch.tensor([[0.0, 0, 0, -1, 1, 1, 0]]),
        torch.tensor([[float("nan"), 0, 0, 1, 1, 1, 0]]),
    ],
)
def test_bad_boxes(bad):
    with pytest.raises(ValueError, match="boxes"):
        points_in_boxes(torch.zeros(2, 3), bad)


def test_padded_packed_round_trip():
    g = torch.Generator().manual_seed(1)
    padded = torch.randn(3, 7, 4, generator=g)
    lengths = torch.tensor([7, 0, 3])
    packed, batch = padded_to_packed(padded, lengths)
    assert packed.shape == (10, 4) and batch.tolist() == [0] * 7 + [2] * 3
    back, back_lengths = packed_to_padded(packed, batch, num_clouds=3)
    assert back_lengths.tolist() == [7, 0, 3]
    assert torch.equal(back[0], padded[0]) and torch.equal(back[2, :3], padded[2, :3])
    assert (back[2, 3:] == 0).all() and (back[1] == 0).all()


def test_packed_to_padded_rejects_unsorted_batch():
    with pytest.raises(ValueError, match="sorted"):
        packed_to_padded(torch.zeros(3, 2), torch.tensor([1, 0, 1]))


def test_batch_ptr_round_trip():
    from geo3d.structures import batch_to_ptr, ptr_to_batch

    batch = torch.tensor([0, 0, 0, 2, 2])
    ptr = batch_to_ptr(batch, num_clouds=4)
    assert ptr.tolist() == [0, 3, 3, 5, 5]
    assert torch.equal(ptr_to_batch(ptr), batch)
    with pytest.raises(ValueError, match="sorted"):
        batch_to_ptr(torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="ptr"):
        ptr_to_batch(torch.tensor([1, 3]))
