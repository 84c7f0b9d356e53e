"""Sparse convolution layers: equal to a dense ``conv3d`` read at the active voxels (the
ground truth), equal to spconv's forward with the same weights (random and real KITTI
voxels), trainable (gradcheck), and rulebooks shared by ``indice_key``."""

import os

import numpy as np
import pytest
import torch

from geo3d.nn.sparse_conv import (
    SparseConv3d,
    SparseConvTensor,
    SparseInverseConv3d,
    SparseSequential,
    SubMConv3d,
)
from geo3d.nn.spconv_interop import from_spconv, spconv_cpu_call, to_spconv
from tests.conftest import devices

SHAPE = [9, 10, 11]


def random_tensor(count=300, channels=3, shape=SHAPE, batch=2, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    columns = [torch.randint(0, batch, (count,), generator=g)]
    columns += [torch.randint(0, s, (count,), generator=g) for s in shape]
    coords = torch.unique(torch.stack(columns, dim=1), dim=0)
    coords = coords[torch.randperm(len(coords), generator=g)].to(torch.int32)
    features = torch.randn(len(coords), channels, generator=g, dtype=dtype)
    return SparseConvTensor(features, coords, shape, batch)


def at_voxels(grid, indices):
    """``grid (B, C, D, H, W)`` read at ``indices (N, 4)`` -> ``(N, C)``."""
    i = indices.long()
    return grid.permute(0, 2, 3, 4, 1)[i[:, 0], i[:, 1], i[:, 2], i[:, 3]]


def dense_weight(layer):
    return layer.weight.permute(0, 4, 1, 2, 3)  # (C_out, C_in, kz, ky, kx)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SubMConv3d(3, 4, 3),
        lambda: SubMConv3d(3, 4, (1, 3, 5), dilation=(1, 2, 1)),
        lambda: SparseConv3d(3, 4, 3, stride=2, padding=1),
        lambda: SparseConv3d(3, 4, (3, 1, 2), stride=(2, 1, 2), padding=(0, 0, 1)),
        lambda: SparseConv3d(3, 4, 3, stride=1, padding=0, dilation=2),
    ],
)
def test_layers_equal_a_dense_convolution_at_the_active_voxels(make):
    torch.manual_seed(0)
    layer = make().double()
    x = random_tensor()
    y = layer(x)
    if layer.subm:
        assert torch.equal(y.indices, x.indices) and y.spatial_shape == x.spatial_shape
        padding = [k // 2 * d for k, d in zip(layer.kernel_size, layer.dilation)]
        stride = 1
    else:
        padding, stride = layer.padding, layer.stride
    grid = torch.nn.functional.conv3d(
        x.dense(), dense_weight(layer), layer.bias, stride, padding, layer.dilation
    )
    assert list(grid.shape[2:]) == y.spatial_shape
    torch.testing.assert_close(y.features, at_voxels(grid, y.indices), rtol=1e-12, atol=1e-12)
    if layer.subm:
        return
    # a strided convolution outputs exactly the positions with an active input in reach
    reached = torch.nn.functional.conv3d(
        (x.dense().abs().sum(1, keepdim=True) > 0).double(),
        torch.ones(1, 1, *layer.kernel_size, dtype=torch.float64),
        None,
        stride,
        padding,
        layer.dilation,
    )
    assert int((reached > 0).sum()) == y.indices.shape[0]


def test_inverse_convolution_is_the_transposed_convolution():
    torch.manual_seed(0)
    down = SparseConv3d(3, 5, 3, stride=2, padding=1, indice_key="down").double()
    up = SparseInverseConv3d(5, 4, 3, indice_key="down").double()
    x = random_tensor()
    y = down(x)
    z = up(y)
    assert torch.equal(z.indices, x.indices) and z.spatial_shape == x.spatial_shape
    grid = torch.nn.functional.conv_transpose3d(
        y.dense(),
        up.weight.permute(4, 0, 1, 2, 3),
        up.bias,
        stride=2,
        padding=1,
        output_padding=[s - ((o - 1) * 2 - 2 + 3) for s, o in zip(SHAPE, y.spatial_shape)],
    )
    assert list(grid.shape[2:]) == SHAPE
    torch.testing.assert_close(z.features, at_voxels(grid, x.indices), rtol=1e-12, atol=1e-12)


def test_gradcheck_through_a_small_network():
    torch.manual_seed(0)
    x = random_tensor(count=40, channels=2, shape=[4, 5, 4])
    net = SparseSequential(
        SubMConv3d(2, 3, 3, indice_key="s1"),
        torch.nn.Tanh(),
        SparseConv3d(3, 3, 3, stride=2, padding=1, indice_key="d1"),
        SubMConv3d(3, 3, 3, indice_key="s2"),
        SparseInverseConv3d(3, 2, 3, indice_key="d1"),
    ).double()
    features = x.features.clone().requires_grad_()

    def run(f, *weights):
        return net(x.replace_feature(f)).features

    assert torch.autograd.gradcheck(run, (features, *net.parameters()), eps=1e-6, atol=1e-6)


def test_rulebooks_are_shared_by_key_and_not_across_kinds():
    x = random_tensor(dtype=torch.float32)
    first, second = SubMConv3d(3, 3, 3, indice_key="k"), SubMConv3d(3, 3, 3, indice_key="k")
    y = first(x)
    book = x.indice_dict["k"]
    second(y)
    assert x.indice_dict["k"] is book  # same voxels: reused
    other = SubMConv3d(3, 3, 5, indice_key="k")(y)  # another kernel: rebuilt
    assert x.indice_dict["k"] is not book and torch.equal(other.indices, x.indices)
    with pytest.raises(ValueError, match="indice_key 'nowhere'"):
        SparseInverseConv3d(3, 3, 3, indice_key="nowhere")(x)


@pytest.mark.parametrize("device", devices())
def test_devices_and_dtypes(device):
    torch.manual_seed(0)
    x = random_tensor(dtype=torch.float32)
    x = SparseConvTensor(x.features.to(device), x.indices.to(device), SHAPE, 2)
    net = SparseSequential(
        SubMConv3d(3, 8, 3), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), SparseConv3d(8, 4, 3, 2, 1)
    ).to(device)
    y = net(x)
    assert y.features.device.type == device and y.features.dtype == torch.float32
    assert y.indices.dtype == torch.int32 and y.indices.device.type == device
    y.features.sum().backward()
    assert net[0].weight.grad is not None and torch.isfinite(net[0].weight.grad).all()


# -- against spconv ------------------------------------------------------------------------
spconv = pytest.importorskip("spconv.pytorch")


def canonical(t):
    """Features and indices sorted by (batch, z, y, x): spconv orders outputs its own way."""
    keys = ((t.indices[:, 0].long() * 4096 + t.indices[:, 1]) * 4096 + t.indices[:, 2]) * 4096
    order = (keys + t.indices[:, 3]).argsort()
    return t.features[order], t.indices[order]


def spconv_twin(layer):
    common = {"bias": layer.bias is not None, "indice_key": layer.indice_key}
    if layer.subm:
        twin = spconv.SubMConv3d(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            dilation=layer.dilation,
            **common,
        )
    elif layer.inverse:
        twin = spconv.SparseInverseConv3d(
            layer.in_channels, layer.out_channels, layer.kernel_size, **common
        )
    else:
        twin = spconv.SparseConv3d(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            layer.dilation,
            **common,
        )
    twin.load_state_dict(layer.state_dict())  # one layout: the state dict loads as it is
    return twin


def kitti_voxels(shared_data):
    from geo3d.ops import dynamic_voxelize, unique_rows

    path = os.path.join(shared_data, "kitti", "training", "velodyne", "000000.bin")
    points = torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(-1, 4))
    voxel, grid = [0.2, 0.2, 0.4], [0, -40, -3, 70.4, 40, 1]
    coords = dynamic_voxelize(points, voxel, grid)
    coords = unique_rows(coords[(coords >= 0).all(dim=1)])
    shape = [10, 400, 352]
    indices = torch.cat([torch.zeros(len(coords), 1, dtype=torch.int32), coords.int()], dim=1)
    return SparseConvTensor(torch.randn(len(indices), 4), indices, shape, 1)


@pytest.mark.parametrize("source", ["random", "kitti"])
def test_forward_equals_spconv(source, request):
    torch.manual_seed(0)
    if source == "kitti":
        x = kitti_voxels(request.getfixturevalue("shared_data"))
    else:
        x = random_tensor(count=3000, channels=4, shape=[21, 40, 36], dtype=torch.float32)
    layers = [
        SubMConv3d(4, 8, 3, indice_key="subm"),
        SparseConv3d(4, 8, 3, stride=2, padding=1, indice_key="down"),
        SparseConv3d(4, 8, (3, 1, 1), stride=(2, 1, 1), padding=0),
    ]
    x_spconv = to_spconv(x)
    for layer in layers:
        ours, theirs = (
            canonical(layer(x)),
            canonical(from_spconv(spconv_cpu_call(spconv_twin(layer), x_spconv))),
        )
        assert torch.equal(ours[1], theirs[1])  # the same active outputs
        torch.testing.assert_close(ours[0], theirs[0], rtol=1e-4, atol=1e-4)
    down, up = layers[1], SparseInverseConv3d(8, 4, 3, indice_key="down")
    theirs_down = spconv_cpu_call(spconv_twin(down), x_spconv)
    theirs = canonical(from_spconv(spconv_cpu_call(spconv_twin(up), theirs_down)))
    ours = canonical(up(down(x)))
    assert torch.equal(ours[1], theirs[1])
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-4, atol=1e-4)


def test_spconv_backend_runs_the_same_layer():
    torch.manual_seed(0)
    layer = SubMConv3d(4, 8, 3)
    x = random_tensor(count=2000, channels=4, shape=[21, 40, 36], dtype=torch.float32)
    ours = canonical(layer(x))
    layer.backend = "spconv"
    theirs = canonical(layer(x))
    assert torch.equal(ours[1], theirs[1])
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-4, atol=1e-4)
    assert set(layer.state_dict()) == {"weight", "bias"}  # spconv's twin is not a submodule


def test_the_neighbour_map_form_equals_the_rulebook_form():
    """What an exporter traces (one gather and one matrix multiply per layer, from the
    rulebooks' neighbour maps) equals the rulebook forward, through a strided layer."""
    from geo3d.nn.sparse_conv_maps import map_forward, neighbor_maps

    torch.manual_seed(0)
    x = random_tensor(count=200, channels=4, batch=1)
    net = SparseSequential(
        SubMConv3d(4, 8, 3, indice_key="a"),
        SparseConv3d(8, 6, 3, 2, 1, indice_key="b"),
        SubMConv3d(6, 5, 3, indice_key="c"),
    ).double()
    want = net(x)
    maps, levels, out_indices, out_shape = neighbor_maps(net, x.indices, x.spatial_shape)
    assert list(maps) == ["a", "b", "c"]
    assert levels == {"a": "voxels", "b": "voxels_b", "c": "voxels_b"}
    assert torch.equal(out_indices, want.indices) and out_shape == want.spatial_shape
    got = map_forward(net, x.features, maps)
    torch.testing.assert_close(got, want.features, rtol=1e-12, atol=1e-12)
