"""The BEV scatter writes each pillar into its own cell, and is differentiable."""

import pytest
import torch

from geo3d.necks import BEVScatter, bev_indices
from geo3d.structures import VoxelGrid

GRID = VoxelGrid((0.5, 0.5, 4.0), (0, -2, -3, 4, 2, 1))  # 8 x 8 pillars


def test_each_pillar_lands_in_its_cell_and_gradients_flow_back():
    coords = torch.tensor([[0, 0, 1, 2], [1, 0, 7, 0], [0, 0, 0, 7]])
    features = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    scatter = BEVScatter(GRID, 5)
    canvas = scatter(features, bev_indices(coords, GRID, 2), 2)
    assert canvas.shape == (2, 5, 8, 8)
    for (b, _, y, x), row in zip(coords.tolist(), features):
        assert torch.equal(canvas[b, :, y, x], row)
    assert int((canvas.abs().sum(1) > 0).sum()) == 3
    assert torch.autograd.gradcheck(
        lambda f: scatter(f, bev_indices(coords, GRID, 2), 2), (features,)
    )


def test_pillars_outside_or_sharing_a_cell_are_refused():
    with pytest.raises(ValueError, match="outside the canvas"):
        bev_indices(torch.tensor([[0, 0, 8, 0]]), GRID, 1)
    with pytest.raises(ValueError, match="outside the canvas"):
        bev_indices(torch.tensor([[1, 0, 0, 0]]), GRID, 1)
    with pytest.raises(ValueError, match="share a BEV cell"):
        bev_indices(torch.tensor([[0, 0, 3, 3], [0, 1, 3, 3]]), GRID, 1)
    with pytest.raises(ValueError, match="integer"):
        bev_indices(torch.rand(2, 4), GRID, 1)


def test_bev_backbone_has_pointpillars_shapes_and_parameter_count():
    from geo3d.necks import BEVBackbone

    backbone = BEVBackbone().eval()
    out = backbone(torch.randn(1, 64, 96, 80))
    assert out.shape == (1, 384, 48, 40) and backbone.stride == 2
    # OpenPCDet's PointPillars backbone: 4.21 M parameters (convolutions without bias, BN)
    count = sum(p.numel() for p in backbone.parameters())
    convs = 64 * 64 * 9 * 4 + 64 * 128 * 9 + 128 * 128 * 9 * 5 + 128 * 256 * 9 + 256 * 256 * 9 * 5
    deconvs = 64 * 128 * 1 + 128 * 128 * 4 + 256 * 128 * 16
    norms = 2 * (64 * 4 + 128 * 6 + 256 * 6 + 128 * 3)
    assert count == convs + deconvs + norms
    with pytest.raises(ValueError, match="one entry per block"):
        BEVBackbone(layer_nums=(3, 5))
