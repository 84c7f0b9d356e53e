"""Point-PN's encoder against its equations (Zhang et al., CVPR 2023, section 4, and the
official ``point_pn.py``), written out with loops and plain torch: FPS from index 0, kNN
with the centre, one std over the whole batch of relative coordinates, the centre's
feature concatenated, linear + BN + ReLU, blocked PosE, ``(x + PosE) * PosE``, residual
bottlenecks, max + mean over K, BN, GELU, global max + mean. Every module in eval mode with
random BatchNorm statistics, so a wrong eps, order or layout changes the values."""

import math

import torch

from geo3d.encoders.point_pn import PointPNEncoder
from tests.conftest import randomise_batch_norms


def bn(m, x):
    return (x - m.running_mean) / torch.sqrt(m.running_var + 1e-5) * m.weight + m.bias


def linear_bn(layer, x, relu=True):
    y = x @ layer.linear.weight.T
    if layer.linear.bias is not None:
        y = y + layer.linear.bias
    y = bn(layer.norm, y)
    return y.clamp(min=0) if relu else y


def fps(points, m):
    chosen, dist = [0], torch.full((points.shape[0],), math.inf, dtype=points.dtype)
    for _ in range(m - 1):
        dist = torch.minimum(dist, ((points - points[chosen[-1]]) ** 2).sum(1))
        chosen.append(int(dist.argmax()))
    return chosen


def pose_blocked(p, channels, alpha=1000.0, beta=100.0):
    """Eq. 2-3 with Point-PN's layout: per axis, F sines then F cosines; axes x, y, z."""
    frequencies = channels // 6
    out = []
    for axis in range(3):
        u = [beta * p[axis] / alpha ** (m / frequencies) for m in range(frequencies)]
        out += [math.sin(v) for v in u] + [math.cos(v) for v in u]
    return torch.tensor(out, dtype=torch.float64)


def encoder_by_equations(encoder, points):
    batch = points.shape[0]
    xyz = points[..., :3]
    feats = [linear_bn(encoder.embed, points[b]) for b in range(batch)]  # (N, C)
    xyz = [xyz[b] for b in range(batch)]
    for stage in encoder.stages:
        groups = stage.num_groups
        centres = [fps(xyz[b], groups) for b in range(batch)]
        neighbours = [
            [
                torch.sort(((xyz[b] - xyz[b][c]) ** 2).sum(1), stable=True).indices[: stage.k]
                for c in centres[b]
            ]
            for b in range(batch)
        ]
        relative = torch.stack(
            [
                torch.stack([xyz[b][n] - xyz[b][c] for c, n in zip(centres[b], neighbours[b])])
                for b in range(batch)
            ]
        )
        std = relative.std()  # one unbiased std over the whole (B, G, K, 3) tensor
        new_xyz, new_feats = [], []
        for b in range(batch):
            pooled_rows = []
            for g, (c, n) in enumerate(zip(centres[b], neighbours[b])):
                expanded = torch.cat([feats[b][n], feats[b][c].expand(stage.k, -1)], 1)
                x = linear_bn(stage.expand, expanded)  # (K, out)
                pe = torch.stack(
                    [pose_blocked(r / (std + 1e-5), x.shape[1]) for r in relative[b, g]]
                )
                x = (x + pe) * pe
                for block in stage.blocks:
                    x = (linear_bn(block.expand, linear_bn(block.reduce, x), relu=False) + x).clamp(
                        min=0
                    )
                pooled = x.amax(0) + x.mean(0)
                pooled_rows.append(torch.nn.functional.gelu(bn(stage.pool_norm, pooled)))
            new_xyz.append(xyz[b][centres[b]])
            new_feats.append(torch.stack(pooled_rows))
        xyz, feats = new_xyz, new_feats
    return torch.stack([f.amax(0) + f.mean(0) for f in feats])


def test_point_pn_encoder_equals_its_equations():
    torch.manual_seed(0)
    encoder = PointPNEncoder(embed_dim=6, k=5, num_groups=8, blocks=(1, 2), expansions=(2, 1))
    encoder = encoder.double().eval()
    randomise_batch_norms(encoder)
    points = torch.rand(2, 30, 3, dtype=torch.float64)
    with torch.no_grad():
        got = encoder(points)
        want = encoder_by_equations(encoder, points)
    assert got.shape == (2, 12)
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-10)
    # the batch-level std couples the clouds (official): a different partner changes cloud 0
    with torch.no_grad():
        other = encoder(torch.cat([points[:1], points[1:] * 3]))
    assert not torch.allclose(other[0], got[0])
