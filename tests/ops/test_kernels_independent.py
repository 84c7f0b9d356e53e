"""Every native kernel, on every device, against a reference written here with loops and
plain torch (independent of the library's own ``*_reference`` path), and the same inputs
rejected with the same errors on the CPU and on CUDA.

On a machine without a GPU the CUDA cases skip with a reason; the CPU cases check the
references themselves, so the CUDA comparison is ready to run where a GPU is present.
"""

import pytest
import torch

from geo3d import ops
from geo3d.ops.soft_pool import soft_pool
from tests.conftest import devices


def squared(a, b):
    """``(dx*dx + dy*dy) + dz*dz`` (the kernels' order), ``a (..., 3), b (..., 3)``."""
    d = a - b
    return (d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]) + d[..., 2] * d[..., 2]


def random_clouds(batch, n, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    xyz = torch.rand(batch, n, 3, generator=g, dtype=dtype) * 4
    lengths = torch.randint(1, n + 1, (batch,), generator=g)
    lengths[0] = n
    return xyz, lengths


def fps_by_loops(xyz, lengths, m, start=0):
    out = torch.full((xyz.shape[0], m), -1, dtype=torch.int64)
    for b in range(xyz.shape[0]):
        cloud = xyz[b, : lengths[b]]
        dist = torch.full((cloud.shape[0],), float("inf"), dtype=xyz.dtype)
        current = start
        for step in range(min(m, cloud.shape[0])):
            out[b, step] = current
            dist = torch.minimum(dist, squared(cloud, cloud[current]))
            best = dist.max()
            current = int((dist == best).nonzero()[0])  # ties to the lowest index
    return out


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fps(device, dtype):
    xyz, lengths = random_clouds(5, 300, 0, dtype)
    got = ops.farthest_point_sample(xyz.to(device), 64, lengths.to(device))
    assert got.device.type == device and got.dtype == torch.int64
    assert torch.equal(got.cpu(), fps_by_loops(xyz, lengths, 64))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("k", [1, 7, 40])
def test_knn(device, k):
    query, query_lengths = random_clouds(4, 50, 1)
    support, support_lengths = random_clouds(4, 120, 2)
    support_lengths[1] = 5  # fewer than k points
    dist, idx = ops.knn(
        query.to(device),
        support.to(device),
        k,
        query_lengths.to(device),
        support_lengths.to(device),
    )
    for b in range(4):
        for q in range(50):
            if q >= query_lengths[b]:
                assert bool((idx[b, q] == -1).all())
                continue
            d = squared(support[b, : support_lengths[b]], query[b, q])
            order = torch.sort(d, stable=True).indices[:k]
            found = order.shape[0]
            assert idx[b, q, :found].cpu().tolist() == order.tolist()
            assert torch.allclose(dist[b, q, :found].cpu(), d[order], rtol=0, atol=0)
            assert bool((idx[b, q, found:] == -1).all())


@pytest.mark.parametrize("device", devices())
def test_ball_query(device):
    query, query_lengths = random_clouds(3, 40, 3)
    support, support_lengths = random_clouds(3, 200, 4)
    idx = ops.ball_query(
        query.to(device),
        support.to(device),
        0.9,
        16,
        query_lengths.to(device),
        support_lengths.to(device),
    )
    for b in range(3):
        for q in range(int(query_lengths[b])):
            d = squared(support[b, : support_lengths[b]], query[b, q])
            inside = (d < 0.9**2).nonzero().squeeze(1)[:16].tolist()
            row = idx[b, q].cpu().tolist()
            assert row[: len(inside)] == inside and all(v == -1 for v in row[len(inside) :])


@pytest.mark.parametrize("device", devices())
def test_dynamic_voxelize(device):
    g = torch.Generator().manual_seed(5)
    points = torch.rand(2000, 4, generator=g, dtype=torch.float64) * 30 - 5
    size, low, high = [0.3, 0.7, 0.45], [0.0, -2.0, -1.0], [20.1, 13.4, 8.0]
    coords = ops.dynamic_voxelize(points.to(device), size, low + high)
    assert coords.dtype == torch.int32 and coords.device.type == device
    for p in range(points.shape[0]):
        cell = [int(torch.floor((points[p, a] - low[a]) / size[a])) for a in range(3)]
        cells = [round((high[a] - low[a]) / size[a]) for a in range(3)]
        inside = all(0 <= c < n for c, n in zip(cell, cells))
        assert coords[p].tolist() == (cell[::-1] if inside else [-1, -1, -1])


def soft_pool_by_formula(x, dims, kernel, stride):
    """Plain torch: the windows by ``unfold``, ``softmax(w) . w`` per window, float64."""
    windows = x
    for a in range(dims):
        windows = windows.unfold(2 + a, kernel, stride)
    windows = windows.reshape(*windows.shape[: 2 + dims], -1)
    return (torch.softmax(windows, -1) * windows).sum(-1)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dims,kernel,stride", [(1, 3, 2), (2, 2, 2), (2, 3, 1), (3, 2, 1)])
def test_soft_pool_forward_and_backward(device, dims, kernel, stride):
    g = torch.Generator().manual_seed(dims * 10 + kernel)
    x = torch.randn((2, 3) + (7,) * dims, generator=g, dtype=torch.float64) * 3
    upstream = None
    leaf = x.to(device).requires_grad_()
    out = soft_pool(leaf, dims, kernel, stride)
    upstream = torch.rand(out.shape, generator=g, dtype=torch.float64)
    (grad,) = torch.autograd.grad(out, leaf, upstream.to(device))
    plain = x.clone().requires_grad_()
    want = soft_pool_by_formula(plain, dims, kernel, stride)
    (want_grad,) = torch.autograd.grad(want, plain, upstream)
    assert torch.allclose(out.detach().cpu(), want.detach(), rtol=1e-12, atol=1e-12)
    assert torch.allclose(grad.cpu(), want_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", devices())
def test_more_clouds_than_a_cuda_grid_row_holds(device):
    # 70,000 clouds: past gridDim.y's 65,535, which the CUDA kernels launch in chunks
    g = torch.Generator().manual_seed(6)
    xyz = torch.rand(70000, 4, 3, generator=g)
    dist, idx = ops.knn(xyz.to(device), xyz.to(device), 2)
    assert torch.equal(idx[:, :, 0].cpu(), torch.arange(4).expand(70000, 4))  # itself first
    last = xyz[-1]
    want = torch.stack(
        [torch.sort(squared(last, last[q]), stable=True).indices[:2] for q in range(4)]
    )
    assert torch.equal(idx[-1].cpu(), want)
    balls = ops.ball_query(xyz.to(device), xyz.to(device), 1e-3, 1)
    assert torch.equal(balls[:, :, 0].cpu(), torch.arange(4).expand(70000, 4))


@pytest.mark.parametrize("device", devices())
def test_kernels_reject_the_same_bad_values_on_every_device(device):
    xyz = torch.rand(2, 10, 3, device=device)
    good = torch.tensor([10, 10], device=device)
    bad = torch.tensor([10, 12], device=device)
    start = torch.zeros(2, dtype=torch.long, device=device)
    with pytest.raises(RuntimeError, match=r"'lengths'\[1\] = 12 is outside \[0, 10\]"):
        torch.ops.geo3d.farthest_point_sample(xyz, bad, 4, start)
    with pytest.raises(RuntimeError, match=r"'start_idx'\[1\] = 7 is outside cloud 1 of 5"):
        torch.ops.geo3d.farthest_point_sample(
            xyz, torch.tensor([10, 5], device=device), 4, torch.tensor([0, 7], device=device)
        )
    with pytest.raises(RuntimeError, match=r"'support_lengths'\[1\] = 12 is outside"):
        torch.ops.geo3d.knn(xyz, xyz, good, bad, 3)
    with pytest.raises(RuntimeError, match=r"'query_lengths'\[1\] = -1 is outside"):
        torch.ops.geo3d.ball_query(xyz, xyz, torch.tensor([10, -1], device=device), good, 0.5, 4)
    if device == "cuda":  # lengths left on the host: named, not an illegal memory access
        with pytest.raises(RuntimeError, match="'query_lengths' is on cpu"):
            torch.ops.geo3d.knn(xyz, xyz, good.cpu(), good, 3)
        with pytest.raises(RuntimeError, match="'support_lengths' is on cpu"):
            torch.ops.geo3d.ball_query(xyz, xyz, good, good.cpu(), 0.5, 4)
        with pytest.raises(RuntimeError, match="'lengths' is on cpu"):
            torch.ops.geo3d.farthest_point_sample(xyz, good.cpu(), 4, start)
