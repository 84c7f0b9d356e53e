"""DSVT's blocks: set attention against attention written out by hand from the layer's own
weights, invariance to the order of the input voxels, gradcheck, and the position-embedding
quirk."""

import math

import pytest
import torch

from geo3d.encoders.dsvt import DSVT, SetAttention, last_occurrence
from geo3d.ops import set_partition


def voxels(count=300, shape=(1, 40, 40), seed=0):
    g = torch.Generator().manual_seed(seed)
    columns = [torch.randint(0, 2, (count,), generator=g)]
    columns += [torch.randint(0, s, (count,), generator=g) for s in shape]
    return torch.unique(torch.stack(columns, dim=1), dim=0).to(torch.int32)


def partitions(coords, shape=(1, 40, 40), set_size=8):
    return (
        set_partition(coords, shape, (1, 6, 6), (0, 0, 0), set_size),
        set_partition(coords, shape, (1, 12, 12), (0, 3, 3), set_size),
    )


def attention_by_hand(layer: SetAttention, features, sets, masks, position):
    """Multi-head attention per set from the layer's in/out projections, the last
    occurrence of each voxel written back, then the two residual + LayerNorm steps."""
    attention = layer.attention
    d, heads = features.shape[1], attention.num_heads
    w_q, w_k, w_v = attention.in_proj_weight.split(d)
    b_q, b_k, b_v = attention.in_proj_bias.split(d)
    out = torch.empty_like(features)
    written = {}
    for s in range(sets.shape[0]):
        x = features[sets[s]]
        q = (x + position[sets[s]]) @ w_q.t() + b_q
        k = (x + position[sets[s]]) @ w_k.t() + b_k
        v = x @ w_v.t() + b_v
        split = lambda t: t.reshape(-1, heads, d // heads).transpose(0, 1)  # noqa: E731
        scores = split(q) @ split(k).transpose(1, 2) / math.sqrt(d // heads)
        scores = scores.masked_fill(masks[s][None, None, :], float("-inf"))
        mixed = (scores.softmax(-1) @ split(v)).transpose(0, 1).reshape(-1, d)
        mixed = mixed @ attention.out_proj.weight.t() + attention.out_proj.bias
        for t, voxel in enumerate(sets[s].tolist()):
            written[voxel] = mixed[t]  # later slots overwrite earlier ones
    for voxel, value in written.items():
        out[voxel] = value
    x = layer.norm1(features + out)
    return layer.norm2(x + layer.linear2(layer.activation(layer.linear1(x))))


def test_set_attention_equals_attention_written_out():
    torch.manual_seed(0)
    coords = voxels()
    part = partitions(coords)[0]
    layer = SetAttention(16, 4, 32).double().eval()
    features = torch.randn(len(coords), 16, dtype=torch.float64)
    position = torch.randn(len(coords), 16, dtype=torch.float64)
    got = layer(features, part.sets[0], part.masks[0], position)
    expected = attention_by_hand(layer, features, part.sets[0], part.masks[0], position)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_last_occurrence_is_the_official_scatter_back():
    flat = torch.tensor([2, 0, 2, 1, 0, 2])
    assert last_occurrence(flat, 3).tolist() == [4, 3, 5]


@pytest.mark.parametrize("quirk", [True, False])
def test_backbone_does_not_depend_on_the_order_of_the_voxels(quirk):
    torch.manual_seed(0)
    coords = voxels(400)
    net = DSVT(16, 4, 32, blocks=3, windows=((1, 6, 6), (1, 12, 12)), official_position_quirk=quirk)
    net = net.double().eval()
    features = torch.randn(len(coords), 16, dtype=torch.float64)
    out = net(features, partitions(coords))
    order = torch.randperm(len(coords), generator=torch.Generator().manual_seed(1))
    shuffled = net(features[order], partitions(coords[order]))
    torch.testing.assert_close(shuffled, out[order], rtol=1e-10, atol=1e-10)


def test_position_quirk_changes_the_odd_blocks_only():
    torch.manual_seed(0)
    coords = voxels(200)
    quirk = DSVT(16, 4, 32, blocks=1, windows=((1, 6, 6), (1, 12, 12))).double().eval()
    fixed = DSVT(
        16, 4, 32, blocks=1, windows=((1, 6, 6), (1, 12, 12)), official_position_quirk=False
    )
    fixed.load_state_dict(quirk.state_dict())
    fixed = fixed.double().eval()
    features = torch.randn(len(coords), 16, dtype=torch.float64)
    parts = partitions(coords)
    # block 0 (shift 0): the quirk gives its second layer the shift-1 embedding
    assert not torch.allclose(quirk(features, parts), fixed(features, parts))


def test_gradcheck_of_a_tiny_backbone():
    torch.manual_seed(0)
    coords = voxels(40, shape=(1, 12, 12))
    parts = partitions(coords, shape=(1, 12, 12), set_size=4)
    net = DSVT(8, 2, 16, blocks=2, windows=((1, 6, 6), (1, 12, 12))).double().eval()
    features = torch.randn(len(coords), 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f: net(f, parts), (features,), eps=1e-6, atol=1e-5)


def test_given_scatter_back_indices_equal_the_computed_ones():
    """An exported core takes the scatter-back indices as inputs: the same output."""
    from geo3d.encoders.dsvt import scatter_back_indices

    torch.manual_seed(0)
    coords = voxels(300)
    net = DSVT(16, 4, 32, blocks=2, windows=((1, 6, 6), (1, 12, 12))).double().eval()
    features = torch.randn(len(coords), 16, dtype=torch.float64)
    parts = partitions(coords)
    backs = tuple(scatter_back_indices(p.sets, len(coords)) for p in parts)
    assert backs[0].shape == (2, len(coords))
    torch.testing.assert_close(net(features, parts, backs), net(features, parts))


def test_a_scene_without_voxels_passes_through():
    net = DSVT(16, 4, 32, blocks=2, windows=((1, 6, 6), (1, 12, 12))).eval()
    coords = torch.zeros(0, 4, dtype=torch.int32)
    out = net(torch.zeros(0, 16), partitions(coords))
    assert out.shape == (0, 16)
