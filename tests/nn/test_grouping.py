"""Sample-and-group against brute force: FPS centres, the k nearest by cdist, offsets."""

import torch

from geo3d.nn import sample_and_group
from geo3d.ops import farthest_point_sample_reference


def test_groups_are_the_nearest_points_of_fps_centres():
    generator = torch.Generator().manual_seed(0)
    xyz = torch.rand(2, 200, 3, generator=generator, dtype=torch.float64)
    feats = torch.randn(2, 200, 5, generator=generator, dtype=torch.float64)
    groups = sample_and_group(xyz, feats, 16, 8)
    lengths = torch.full((2,), 200)
    centres = farthest_point_sample_reference(xyz, lengths, 16, torch.zeros(2, dtype=torch.int64))
    for b in range(2):
        assert torch.equal(groups.centre_xyz[b], xyz[b, centres[b]])
        assert torch.equal(groups.centre_feats[b], feats[b, centres[b]])
        distances = torch.cdist(groups.centre_xyz[b], xyz[b])  # (G, N)
        nearest = distances.topk(8, largest=False).values
        got = groups.relative_xyz[b].norm(dim=-1).sort(dim=-1).values
        torch.testing.assert_close(got, nearest)
        # each neighbour's feature belongs to the point at its offset
        points = groups.relative_xyz[b] + groups.centre_xyz[b, :, None]
        index = torch.cdist(points.reshape(-1, 3), xyz[b]).argmin(dim=1)
        assert torch.equal(groups.neighbour_feats[b].reshape(-1, 5), feats[b, index])
    expanded = groups.expanded_feats(centred=True)
    assert expanded.shape == (2, 16, 8, 10)
    assert torch.equal(expanded[..., 5:], groups.centre_feats[:, :, None].expand(-1, -1, 8, -1))
    assert torch.equal(expanded[..., :5], groups.neighbour_feats - groups.centre_feats[:, :, None])
