"""Point-NN pinned against the paper's equations, written out step by step with loops."""

import math

import numpy as np
import pytest
import torch

from geo3d.encoders import PointNNEncoder
from geo3d.heads import MemoryBankClassifier
from geo3d.nn import trig_positional_encoding


def pose_by_hand(p, channels, alpha=1000.0, beta=100.0):
    """PosE of one 3-vector: per axis x, y, z, per frequency m: sin(u), cos(u) (eq. 2-3)."""
    frequencies = channels // 6
    out = []
    for axis in range(3):
        for m in range(frequencies):
            u = beta * p[axis] / alpha ** (m / frequencies)
            out += [math.sin(u), math.cos(u)]
    return np.array(out)


def fps_by_hand(xyz, count):
    chosen, dist = [0], np.full(len(xyz), np.inf)
    for _ in range(count - 1):
        dist = np.minimum(dist, ((xyz - xyz[chosen[-1]]) ** 2).sum(1))
        chosen.append(int(np.argmax(dist)))
    return chosen


def point_nn_by_hand(clouds, stages, embed, k, groups):
    """The official computation for a batch (the std is taken over the whole batch)."""
    xyz = [c.copy() for c in clouds]
    feats = [np.stack([pose_by_hand(p, embed) for p in c]) for c in clouds]
    for stage in range(stages):
        g = groups >> stage
        centre_xyz, centre_f, knn_xyz, knn_f = [], [], [], []
        for b in range(len(clouds)):
            idx = fps_by_hand(xyz[b], g)
            cx, cf = xyz[b][idx], feats[b][idx]
            d = ((cx[:, None] - xyz[b][None]) ** 2).sum(-1)
            nbr = np.argsort(d, axis=1, kind="stable")[:, :k]
            centre_xyz.append(cx)
            centre_f.append(cf)
            knn_xyz.append(xyz[b][nbr] - cx[:, None])
            knn_f.append(feats[b][nbr] - cf[:, None])
        knn_xyz, knn_f = np.stack(knn_xyz), np.stack(knn_f)
        knn_f = knn_f / (knn_f.std(ddof=1) + 1e-5)
        knn_xyz = knn_xyz / (knn_xyz.std(ddof=1) + 1e-5)
        new_feats = []
        for b in range(len(clouds)):
            out = np.zeros((g, 2 * knn_f.shape[-1]))
            for i in range(g):
                rows = []
                for j in range(k):
                    expanded = np.concatenate([knn_f[b, i, j], centre_f[b][i]])
                    pe = pose_by_hand(knn_xyz[b, i, j], len(expanded))
                    rows.append((expanded + pe) * pe)
                rows = np.stack(rows)
                pooled = (rows.max(0) + rows.mean(0)) / math.sqrt(1 + 1e-5)
                out[i] = 0.5 * pooled * (1 + np.vectorize(math.erf)(pooled / math.sqrt(2)))  # GELU
            new_feats.append(out)
        xyz, feats = centre_xyz, new_feats
    return np.stack([f.max(0) + f.mean(0) for f in feats])


def test_positional_encoding_matches_the_equation():
    p = torch.tensor([0.3, -0.7, 0.05], dtype=torch.float64)
    got = trig_positional_encoding(p, 24)
    assert torch.allclose(got, torch.from_numpy(pose_by_hand(p.numpy(), 24)), atol=1e-12)
    blocked = trig_positional_encoding(p, 24, layout="blocked")
    assert torch.allclose(blocked[:4], got[0:8:2]) and torch.allclose(blocked[4:8], got[1:8:2])


def test_encoder_golden_against_the_equations():
    rng = np.random.default_rng(0)
    clouds = [rng.uniform(-1, 1, (40, 3)) for _ in range(2)]
    encoder = PointNNEncoder(num_stages=2, embed_dim=12, k=5, num_groups=8)
    got = encoder(torch.from_numpy(np.stack(clouds)))
    want = point_nn_by_hand(clouds, stages=2, embed=12, k=5, groups=8)
    assert got.shape == (2, 48)
    assert np.allclose(got.numpy(), want, rtol=1e-9, atol=1e-9)


def test_official_defaults_and_batch_dependence():
    encoder = PointNNEncoder()
    assert encoder.out_dim == 1152 and encoder.groups == [512, 256, 128, 64] and encoder.k == 90
    assert sum(p.numel() for p in encoder.parameters()) == 0
    small = PointNNEncoder(num_stages=2, embed_dim=12, k=6, num_groups=16)
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(1, 64, 3, generator=g), torch.rand(1, 64, 3, generator=g) * 3
    alone = small(a)
    together = small(torch.cat([a, b]))[:1]
    assert not torch.allclose(alone, together)  # the official batch-level std
    per_sample = PointNNEncoder(
        num_stages=2, embed_dim=12, k=6, num_groups=16, normalization="sample"
    )
    assert torch.allclose(per_sample(a), per_sample(torch.cat([a, b]))[:1], atol=1e-5)


def test_bad_input():
    encoder = PointNNEncoder()
    with pytest.raises(ValueError, match="at least 512 points"):
        encoder(torch.rand(2, 300, 3))
    bad = torch.rand(1, 1024, 3)
    bad[0, 5, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        encoder(bad)
    with pytest.raises(ValueError, match="multiple of 6"):
        PointNNEncoder(embed_dim=70)


def test_memory_bank_classifier_formula_and_gamma_selection():
    memory = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    head = MemoryBankClassifier(num_classes=2, gamma=3.0).build(memory, torch.tensor([0, 1, 1]))
    query = torch.tensor([[2.0, 0.5]])
    f = query / query.norm()
    memory_n = memory / memory.norm(dim=1, keepdim=True)
    weights = torch.exp(-3.0 * (1 - f @ memory_n.T))[0]
    assert torch.allclose(head(query), torch.stack([weights[0], weights[1] + weights[2]])[None])
    gamma = head.select_gamma(
        torch.tensor([[1.0, 0.1], [0.1, 1.0]]), torch.tensor([0, 1]), candidates=[0.0, 5.0, 50.0]
    )
    assert gamma == 5.0  # gamma 0 weighs memories equally: class 1 (two of them) wins both: 50 %
    with pytest.raises(RuntimeError, match="empty"):
        MemoryBankClassifier(2)(query)


def test_official_fps_rule_skips_points_at_the_origin():
    g = torch.Generator().manual_seed(4)
    xyz = torch.rand(1, 64, 3, generator=g) + 0.5
    xyz[0, 10:30] = 0.01 * torch.rand(20, 3, generator=g)  # squared norms below 1e-3
    encoder = PointNNEncoder(num_stages=1, embed_dim=12, k=4, num_groups=40, skip_origin_fps=True)
    _, centres, _ = encoder.grouping()(xyz)  # the index work the model's preprocess does
    norms = (xyz[0, centres[0]] ** 2).sum(-1)
    assert (norms[1:] > 1e-3).all()  # never picked after the first
    assert torch.equal(encoder(xyz), encoder(xyz, *encoder.grouping()(xyz)[1:]))
    from geo3d import ops

    plain = xyz[0, ops.farthest_point_sample(xyz, 60)[0]]  # 44 points away from the origin
    assert ((plain**2).sum(-1) <= 1e-3).any()  # the plain rule does pick them


def test_stage_outputs_for_a_segmentation_decoder():
    encoder = PointNNEncoder(num_stages=2, embed_dim=12, k=5, num_groups=8)
    levels = encoder.forward_stages(torch.rand(2, 40, 3))
    assert [tuple(x.shape) for x, _ in levels] == [(2, 40, 3), (2, 8, 3), (2, 4, 3)]
    assert [f.shape[-1] for _, f in levels] == [12, 24, 48]
