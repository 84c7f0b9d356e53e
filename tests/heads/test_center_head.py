"""CenterPoint's head: targets that decode back to the boxes, the focal loss by hand, the
regression loss zero at the targets."""

import math

import pytest
import torch

from geo3d.heads.center_head import CenterHead, focal_loss_centernet
from geo3d.structures import VoxelGrid

GRID = VoxelGrid((0.16, 0.16, 4.0), (0, -10.24, -3, 20.48, 10.24, 1))  # 128 x 128 pillars


def boxes_and_labels():
    boxes = torch.tensor(
        [
            [
                [5.0, 2.0, -1.0, 3.9, 1.6, 1.5, 0.4],
                [12.0, -6.0, -0.8, 0.8, 0.6, 1.7, -2.0],
                [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ],
            [
                [15.5, 7.5, -1.2, 1.8, 0.6, 1.7, 3.0],
                [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ],
        ]
    )
    labels = torch.tensor([[0, 1, -1], [2, -1, -1]])
    return boxes, labels, torch.tensor([2, 1])


@pytest.mark.parametrize("heading", ["sincos", "axis_direction"])
def test_targets_decode_back_to_the_boxes(heading):
    head = CenterHead(384, 3, GRID, stride=2, heading=heading)
    channels = 8 if heading == "sincos" else 10
    assert head.feature_shape == (64, 64)
    boxes, labels, counts = boxes_and_labels()
    heatmap, target, index, mask = head.targets(boxes, labels, counts)
    assert mask.tolist() == [[True, True, False], [True, False, False]]
    assert int((heatmap == 1).sum()) == 3 and heatmap.max() == 1
    # the perfect outputs: peaks only where the objects are, the targets at their cells
    logits = torch.where(heatmap == 1, 10.0, -10.0)
    regression = torch.zeros(2, channels, 64 * 64)
    for b in range(2):
        for m in range(3):
            if mask[b, m]:
                regression[b, :8, index[b, m]] = target[b, m, :8]
                if heading == "axis_direction":  # confident direction logits for the bin
                    regression[b, 8 + int(target[b, m, 8]), index[b, m]] = 20.0
    regression = regression.view(2, channels, 64, 64)
    decoded = head.decode((logits, regression))
    for b in range(2):
        got, n = decoded[b], int(counts[b])
        by_label = labels[b, :n].argsort()  # each scene has one object per class here
        order = got["labels"].argsort()
        assert torch.equal(got["labels"][order], labels[b, :n][by_label])
        torch.testing.assert_close(
            got["boxes"][order, :6], boxes[b, :n][by_label, :6], atol=1e-4, rtol=0
        )
        turn = got["boxes"][order, 6] - boxes[b, :n][by_label, 6]
        assert torch.allclose(torch.cos(turn), torch.ones_like(turn), atol=1e-6)
    losses = head.loss((logits, regression), (heatmap, target, index, mask))
    assert losses["loc_loss"] == 0
    if heading == "axis_direction":
        assert 0 <= float(losses["dir_loss"]) < 1e-6


def test_axis_targets_share_the_axis_of_opposite_headings():
    head = CenterHead(384, 3, GRID, stride=2, heading="axis_direction")
    boxes = torch.tensor([[[5.0, 2.0, -1.0, 3.9, 1.6, 1.5, h]] for h in (0.4, 0.4 + math.pi)])
    labels, counts = torch.zeros(2, 1, dtype=torch.int64), torch.ones(2, dtype=torch.int64)
    _, target, _, _ = head.targets(boxes, labels, counts)
    torch.testing.assert_close(target[0, 0, :8], target[1, 0, :8], atol=1e-6, rtol=0)
    assert sorted(target[:, 0, 8].tolist()) == [0.0, 1.0]
    with pytest.raises(ValueError, match="'heading' must be one of"):
        CenterHead(384, 3, GRID, heading="quaternion")


def test_focal_loss_by_hand():
    """One peak and one cell at 0.5, both predicted 0.5: log 2 / 4 + log 2 / 4 / 16."""
    loss = focal_loss_centernet(torch.zeros(1, 1, 1, 2), torch.tensor([[[[1.0, 0.5]]]]))
    assert float(loss) == pytest.approx(math.log(2) / 4 + math.log(2) / 4 / 16, rel=1e-6)


def test_forward_shapes_and_the_heatmap_prior():
    head = CenterHead(32, 3, GRID).eval()
    logits, regression = head(torch.randn(2, 32, 64, 64))
    assert logits.shape == (2, 3, 64, 64) and regression.shape == (2, 8, 64, 64)
    assert float(head.heatmap[-1].bias.detach().mean()) == pytest.approx(-2.19)
