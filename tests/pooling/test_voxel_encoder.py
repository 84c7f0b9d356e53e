"""The voxel feature encoder against DSVT's dynamic VFE written out from its equations."""

import math

import pytest
import torch

from geo3d.pooling import VoxelFeatureEncoder
from tests.conftest import randomise_batch_norms

PILLAR_RANGE = [0.0, -4.0, -1.0, 8.0, 4.0, 1.0]  # one 2 m cell along z: pillars


def official_vfe_by_hand(encoder, points, batch, voxel_size, point_range, pillars):
    """Per point and per voxel, with loops: DynamicPillarVFE / PFNLayerV2 in eval mode."""
    voxels = {}
    for p in range(points.shape[0]):
        cell = [
            math.floor((float(points[p, a]) - point_range[a]) / voxel_size[a]) for a in range(3)
        ]
        cells = [round((point_range[3 + a] - point_range[a]) / voxel_size[a]) for a in range(3)]
        if pillars:
            cell[2] = 0  # official pillars ignore z
        if any(c < 0 or c >= n for c, n in zip(cell, cells)):
            continue
        voxels.setdefault((int(batch[p]), cell[2], cell[1], cell[0]), []).append(p)
    out = {}
    for key, members in voxels.items():
        xyz = points[members, :3]
        mean = xyz.mean(0)
        b, z, y, x = key
        centre = torch.tensor(
            [
                (x + 0.5) * voxel_size[0] + point_range[0],
                (y + 0.5) * voxel_size[1] + point_range[1],
                (z + 0.5) * voxel_size[2] + point_range[2],
            ],
            dtype=torch.float64,
        )
        features = torch.cat([points[members], xyz - mean, xyz - centre], 1)
        for i, layer in enumerate(encoder.layers):
            linear, norm = layer[0], layer[1]
            h = features @ linear.weight.T
            h = (h - norm.running_mean) / torch.sqrt(
                norm.running_var + 1e-3
            ) * norm.weight + norm.bias
            h = h.clamp(min=0)
            if i < len(encoder.layers) - 1:
                features = torch.cat([h, h.amax(0, keepdim=True).expand_as(h)], 1)
            else:
                features = h.amax(0)
        out[key] = features
    return out


@pytest.mark.parametrize("pillars", [True, False])
def test_official_vfe_equals_its_equations(pillars):
    torch.manual_seed(0)
    voxel_size = [1.0, 1.0, 2.0] if pillars else [1.0, 1.0, 0.5]
    g = torch.Generator().manual_seed(1)
    points = torch.rand(300, 4, generator=g, dtype=torch.float64)
    points = points * torch.tensor([10.0, 10.0, 3.0, 1.0], dtype=torch.float64)
    points = points + torch.tensor([-1.0, -5.0, -1.5, 0.0], dtype=torch.float64)  # some outside
    batch = (torch.arange(300) >= 180).long()
    encoder = VoxelFeatureEncoder(4, (16, 16, 24), voxel_size, PILLAR_RANGE).double().eval()
    assert encoder.pillars is pillars
    for layer in encoder.layers:
        assert layer[1].eps == 1e-3 and layer[1].momentum == 0.01 and layer[0].bias is None
    assert [layer[0].out_features for layer in encoder.layers] == [8, 8, 24]  # halves, then full
    randomise_batch_norms(encoder)
    features, coords = encoder(points, batch)
    want = official_vfe_by_hand(encoder, points, batch, voxel_size, PILLAR_RANGE, pillars)
    assert coords.shape[0] == len(want) and features.shape == (len(want), 24)
    for row, key in enumerate(coords.tolist()):
        assert torch.allclose(features[row], want[tuple(key)], atol=1e-12)
    outside_z = (points[:, 2] < -1.0) | (points[:, 2] >= 1.0)
    assert bool(outside_z.any())
    if pillars:  # points above and below the range still count in their pillar
        assert all(key[1] == 0 for key in want)


def test_pillars_keep_points_outside_the_z_range_and_voxels_drop_them():
    points = torch.tensor([[0.5, 0.5, 0.0, 1.0], [0.5, 0.5, 5.0, 2.0]], dtype=torch.float64)
    batch = torch.zeros(2, dtype=torch.long)
    pillars = VoxelFeatureEncoder(4, (8,), [1.0, 1.0, 2.0], PILLAR_RANGE, variant="plain")
    voxels = VoxelFeatureEncoder(4, (8,), [1.0, 1.0, 1.0], PILLAR_RANGE, variant="plain")
    pillars, voxels = pillars.double().eval(), voxels.double().eval()
    both, _ = pillars(points, batch)
    first, _ = pillars(points[:1], batch[:1])
    assert not torch.allclose(both, first)  # the point at z = 5 changed its pillar's mean
    assert voxels(points, batch)[1].shape[0] == 1
    assert torch.equal(voxels(points, batch)[0], voxels(points[:1], batch[:1])[0])


def test_plain_variant_is_a_pointnet_stack():
    torch.manual_seed(0)
    encoder = VoxelFeatureEncoder(4, (8, 12), [1.0, 1.0, 2.0], PILLAR_RANGE, variant="plain")
    encoder = encoder.double().eval()
    randomise_batch_norms(encoder)
    assert [layer[0].out_features for layer in encoder.layers] == [8, 12]
    points = torch.rand(40, 4, dtype=torch.float64)  # all in pillar (x 0, y 4)
    features, coords = encoder(points, torch.zeros(40, dtype=torch.long))
    assert coords.tolist() == [[0, 0, 4, 0]]
    xyz = points[:, :3]
    centre = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    h = torch.cat([points, xyz - xyz.mean(0), xyz - centre], 1)
    for layer in encoder.layers:
        linear, norm = layer[0], layer[1]
        h = (h @ linear.weight.T - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps)
        h = (h * norm.weight + norm.bias).clamp(min=0)
    assert torch.allclose(features[0], h.amax(0), atol=1e-12)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="variant"):
        VoxelFeatureEncoder(4, (8,), [1, 1, 2], PILLAR_RANGE, variant="dsvt")
    with pytest.raises(ValueError, match="even"):
        VoxelFeatureEncoder(4, (7, 8), [1, 1, 2], PILLAR_RANGE)
    encoder = VoxelFeatureEncoder(4, (8,), [1, 1, 2], PILLAR_RANGE)
    with pytest.raises(ValueError, match="'batch'"):
        encoder(torch.rand(5, 4), torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize("pooling", ["max", "mean", "max+mean", "soft", "attention"])
@pytest.mark.parametrize("variant", ["official", "plain"])
@pytest.mark.parametrize("pillars", [True, False])
def test_slotted_encoding_equals_the_packed_one(pooling, variant, pillars):
    """``encode_slotted`` through slot rows (what an exporter traces: gathers and reductions
    over padded axes, voxels cut into rows of 3 so most take several) is the same function
    as ``encode`` (segment reductions by scatter), in evaluation mode, for every pooling."""
    from geo3d.pooling.slot_rows import slot_rows

    torch.manual_seed(0)
    voxel_size = [1.0, 1.0, 2.0] if pillars else [1.0, 1.0, 0.5]
    g = torch.Generator().manual_seed(2)
    points = torch.rand(400, 4, generator=g, dtype=torch.float64)
    points = points * torch.tensor([8.0, 8.0, 2.0, 1.0], dtype=torch.float64)
    points = points + torch.tensor([0.0, -4.0, -1.0, 0.0], dtype=torch.float64)
    batch = torch.zeros(400, dtype=torch.long)
    encoder = VoxelFeatureEncoder(
        4, (16, 16), voxel_size, PILLAR_RANGE, pooling=pooling, variant=variant, heads=2
    )
    encoder = encoder.double().eval()
    randomise_batch_norms(encoder)
    assigned = encoder.assigner(points, batch)
    packed, voxels = encoder.encode(*assigned)
    kept, _, index, _ = assigned
    rows = slot_rows(index, voxels.shape[0], width=3)
    assert rows.voxel_rows.shape[1] > 1
    slotted = encoder.encode_slotted(kept, index, rows, voxels)
    torch.testing.assert_close(slotted, packed, rtol=1e-10, atol=1e-10)
