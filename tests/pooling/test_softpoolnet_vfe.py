"""SoftPoolNet's sorted features and the voxel feature encoder with every pooling."""

import pytest
import torch

from geo3d.pooling import POOLINGS, SoftPoolNetPool, VoxelFeatureEncoder, soft_pool_features

RANGE = [0.0, -8.0, -3.0, 16.0, 8.0, 1.0]


def test_sorted_features_by_hand_and_against_a_full_sort():
    x = torch.randn(3, 50, 6, dtype=torch.float64)
    cube, index = soft_pool_features(x, 10)
    assert cube.shape == (3, 6, 6, 10) and index.shape == (3, 6, 10)
    # rank 0 of region k, channel k: max pooling of channel k
    assert torch.equal(cube[:, torch.arange(6), torch.arange(6), 0], x.amax(dim=1))
    order = x.argsort(dim=1, descending=True)[:, :10].transpose(1, 2)  # (B, R, Np)
    for b in range(3):
        for r in range(6):
            assert torch.equal(cube[b, :, r], x[b, order[b, r]].T)
    # each region's ranking is descending in its own channel
    ranked = cube[:, torch.arange(6), torch.arange(6)]
    assert bool((ranked[..., :-1] >= ranked[..., 1:]).all())


def test_softpoolnet_pool_is_permutation_invariant_and_learns_its_convolutions():
    torch.manual_seed(0)
    pool = SoftPoolNetPool(8, num_points=16, cabins=8).double()
    x = torch.randn(2, 40, 8, dtype=torch.float64)
    out, cube = pool(x)
    assert out.shape == (2, 8) and cube.shape == (2, 8, 8, 16)
    permuted, _ = pool(x[:, torch.randperm(40)])
    assert torch.allclose(out, permuted)
    out.sum().backward()
    assert all(p.grad is not None for p in pool.parameters())
    x.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: pool(t)[0], (x,))
    again, _ = pool(x.detach())
    assert torch.allclose(again, out)  # the same weights on every call
    sorted_pool = SoftPoolNetPool(8, num_points=16, regions=4, sorter=True)
    assert sorted_pool(x.float().detach())[1].shape == (2, 8, 4, 16)
    with pytest.raises(ValueError, match="cabins"):
        SoftPoolNetPool(8, num_points=12, cabins=8)
    with pytest.raises(ValueError, match="num_points"):
        soft_pool_features(x, 41)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_voxel_encoder_with_every_pooling(pooling):
    torch.manual_seed(0)
    points = torch.rand(600, 4) * torch.tensor([20.0, 20.0, 5.0, 1.0]) + torch.tensor(
        [-2.0, -10.0, -3.5, 0.0]
    )
    batch = torch.repeat_interleave(torch.arange(2), torch.tensor([350, 250]))
    encoder = VoxelFeatureEncoder(4, (16, 32), [1.0, 1.0, 4.0], RANGE, pooling).eval()
    features, voxels = encoder(points, batch)
    assert features.shape == (voxels.shape[0], 32) and voxels.shape[1] == 4
    assert torch.unique(voxels, dim=0).shape[0] == voxels.shape[0]
    assert bool((voxels[:, 1:] >= 0).all()) and set(voxels[:, 0].tolist()) <= {0, 1}
    # each voxel's feature depends only on its own points, in any order
    order = torch.randperm(600)
    again, voxels_again = encoder(points[order], batch[order])
    assert torch.equal(voxels_again, voxels) and torch.allclose(again, features, atol=1e-5)
    # voxel 0 alone: the same feature
    target = voxels[0]
    coords = torch.div(
        points[:, [1, 0]] - torch.tensor(RANGE[:2])[[1, 0]],
        torch.tensor([1.0, 1.0]),
        rounding_mode="floor",
    ).long()
    own = (batch == target[0]) & (coords == target[2:]).all(dim=1)  # pillars: z ignored
    alone, _ = encoder(points[own], batch[own])
    assert torch.allclose(alone[0], features[0], atol=1e-5)


def test_softpoolnet_pool_exports():
    pool = SoftPoolNetPool(8, num_points=16).eval()
    x = torch.randn(2, 40, 8)
    exported = torch.export.export(pool, (x,))
    assert torch.allclose(exported.module()(x)[0], pool(x)[0], atol=1e-6)
