"""Packed (ptr) FPS and kNN: against their references, and against the padded ops."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d import ops
from tests.conftest import devices


def packed_clouds(sizes, generator, dtype=torch.float32, grid=False):
    xyz = torch.rand(sum(sizes), 3, generator=generator, dtype=dtype) * 10
    if grid:  # exact duplicates and equal distances: ties must go to the lower index
        xyz = torch.floor(xyz / 3)
    return xyz, ops.ptr_from_lengths(sizes)


def padded(xyz, ptr):
    sizes = (ptr[1:] - ptr[:-1]).tolist()
    out = xyz.new_zeros((len(sizes), max(max(sizes), 1), 3))
    for b, (begin, n) in enumerate(zip(ptr[:-1].tolist(), sizes)):
        out[b, :n] = xyz[begin : begin + n]
    return out, torch.tensor(sizes)


@given(
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=4),
    query_sizes=st.lists(st.integers(0, 60), min_size=4, max_size=4),
    k=st.integers(1, 20),
    seed=st.integers(0, 2**31 - 1),
    grid=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_knn_packed_matches_reference_and_padded(sizes, query_sizes, k, seed, grid):
    g = torch.Generator().manual_seed(seed)
    support, support_ptr = packed_clouds(sizes, g, grid=grid)
    query, query_ptr = packed_clouds(query_sizes[: len(sizes)], g, grid=grid)
    dist, idx = ops.knn_packed(query, support, k, query_ptr, support_ptr)
    want_dist, want_idx = ops.knn_packed_reference(query, support, query_ptr, support_ptr, k)
    assert dist.shape == (query.shape[0], k) and idx.dtype == torch.int64
    assert torch.equal(idx, want_idx)
    assert torch.equal(dist, want_dist)
    # The padded op on padded copies: the same neighbours, local instead of packed indices.
    padded_query, query_lengths = padded(query, query_ptr)
    padded_support, support_lengths = padded(support, support_ptr)
    pad_dist, pad_idx = ops.knn(padded_query, padded_support, k, query_lengths, support_lengths)
    for b in range(len(sizes)):
        rows = slice(int(query_ptr[b]), int(query_ptr[b + 1]))
        local = torch.where(idx[rows] >= 0, idx[rows] - support_ptr[b], idx[rows])
        assert torch.equal(local, pad_idx[b, : rows.stop - rows.start])
        assert torch.equal(dist[rows], pad_dist[b, : rows.stop - rows.start])


def test_knn_packed_indices_gather_from_the_packed_tensor():
    g = torch.Generator().manual_seed(3)
    support, support_ptr = packed_clouds([50, 70, 30], g, dtype=torch.float64)
    dist, idx = ops.knn_packed(support, support, 4, support_ptr, support_ptr)
    recomputed = ((support[idx] - support[:, None, :]) ** 2).sum(-1)
    torch.testing.assert_close(recomputed, dist)
    cloud_of_row = torch.repeat_interleave(torch.arange(3), torch.tensor([50, 70, 30]))
    assert torch.equal(cloud_of_row[idx], cloud_of_row[:, None].expand(-1, 4))
    assert torch.equal(idx[:, 0], torch.arange(150))  # every point is its own nearest


@given(
    sizes=st.lists(st.integers(0, 600), min_size=1, max_size=4),
    ratio=st.floats(0.01, 1.0),
    seed=st.integers(0, 2**31 - 1),
    grid=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_fps_packed_matches_reference_and_padded(sizes, ratio, seed, grid):
    g = torch.Generator().manual_seed(seed)
    xyz, ptr = packed_clouds(sizes, g, grid=grid)
    counts = torch.tensor([int(torch.tensor(ratio * n).ceil()) for n in sizes])
    start = (torch.rand(len(sizes), generator=g) * torch.tensor(sizes)).long()
    idx, sample_ptr = ops.farthest_point_sample_packed(xyz, ptr, ratio=ratio, start_idx=start)
    assert torch.equal(sample_ptr, ops.ptr_from_lengths(counts))
    want = ops.farthest_point_sample_packed_reference(
        xyz, ptr, sample_ptr, int(sample_ptr[-1]), start
    )
    assert idx.dtype == torch.int64 and torch.equal(idx, want)
    pad_xyz, lengths = padded(xyz, ptr)
    for b, n in enumerate(sizes):
        got = idx[sample_ptr[b] : sample_ptr[b + 1]] - ptr[b]
        if n == 0:
            assert got.numel() == 0
            continue
        one = ops.farthest_point_sample(
            pad_xyz[b : b + 1], int(counts[b]), lengths[b : b + 1], start[b : b + 1]
        )
        assert torch.equal(got, one[0])


def test_fps_packed_large_clouds_use_the_tree_paths():
    g = torch.Generator().manual_seed(8)
    xyz, ptr = packed_clouds([40000, 2500, 9000], g)
    idx, sample_ptr = ops.farthest_point_sample_packed(xyz, ptr, torch.tensor([300, 64, 128]))
    want = ops.farthest_point_sample_packed_reference(
        xyz, ptr, sample_ptr, int(sample_ptr[-1]), torch.zeros(3, dtype=torch.long)
    )
    assert torch.equal(idx, want)
    single, _ = ops.farthest_point_sample_packed(xyz[:40000], ptr[:2], 300)
    assert torch.equal(single, idx[:300])


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_packed_ops_on_each_device(device, dtype):
    g = torch.Generator().manual_seed(11)
    sizes = [0, 1, 700, 3000, 33]
    xyz, ptr = packed_clouds(sizes, g, dtype=dtype)
    query, query_ptr = packed_clouds([5, 0, 40, 9, 33], g, dtype=dtype)
    dist, idx = ops.knn_packed(
        query.to(device), xyz.to(device), 16, query_ptr.to(device), ptr.to(device)
    )
    want_dist, want_idx = ops.knn_packed_reference(query, xyz, query_ptr, ptr, 16)
    assert dist.device.type == device and dist.dtype == dtype
    assert torch.equal(idx.cpu(), want_idx) and torch.equal(dist.cpu(), want_dist)
    samples, sample_ptr = ops.farthest_point_sample_packed(
        xyz.to(device), ptr.to(device), ratio=0.1
    )
    want = ops.farthest_point_sample_packed_reference(
        xyz, ptr, sample_ptr.cpu(), int(sample_ptr[-1]), torch.zeros(5, dtype=torch.long)
    )
    assert samples.device.type == device and torch.equal(samples.cpu(), want)


def test_ptr_helpers():
    assert ops.ptr_from_lengths([3, 0, 2]).tolist() == [0, 3, 3, 5]
    batch = torch.tensor([0, 0, 0, 2, 2])
    assert ops.ptr_from_batch(batch).tolist() == [0, 3, 3, 5]
    assert ops.ptr_from_batch(batch, num_clouds=4).tolist() == [0, 3, 3, 5, 5]
    with pytest.raises(ValueError, match="sorted"):
        ops.ptr_from_batch(torch.tensor([1, 0]))


@pytest.mark.parametrize(
    "ptr,match",
    [
        ([1, 10], r"'ptr'\[0\] must be 0"),
        ([0, 6, 4, 10], "non-decreasing"),
        ([0, 9], r"'ptr'\[-1\] = 9 but 'xyz' has 10 points"),
        ([0.0, 10.0], "integer tensor"),
        ([[0, 10]], r"shape \(B \+ 1,\)"),
    ],
)
def test_bad_ptr_is_named(ptr, match):
    xyz = torch.rand(10, 3)
    with pytest.raises(ValueError, match=match):
        ops.farthest_point_sample_packed(xyz, torch.tensor(ptr), 2)


def test_bad_packed_inputs_are_named():
    xyz, ptr = torch.rand(10, 3), torch.tensor([0, 4, 10])
    with pytest.raises(ValueError, match="cloud 0 has 4 points, cannot sample 5"):
        ops.farthest_point_sample_packed(xyz, ptr, 5)
    with pytest.raises(ValueError, match="exactly one of"):
        ops.farthest_point_sample_packed(xyz, ptr, 2, ratio=0.5)
    with pytest.raises(ValueError, match=r"'ratio' must lie in \(0, 1\]"):
        ops.farthest_point_sample_packed(xyz, ptr, ratio=1.5)
    with pytest.raises(ValueError, match="'start_idx' 4 is outside cloud 0 of 4 points"):
        ops.farthest_point_sample_packed(xyz, ptr, 2, start_idx=4)
    with pytest.raises(ValueError, match=r"shape \(P, 3\)"):
        ops.farthest_point_sample_packed(xyz[None], ptr, 2)
    nan = xyz.clone()
    nan[7, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        ops.knn_packed(nan, nan, 3, ptr, ptr)
    with pytest.raises(ValueError, match="different numbers of clouds"):
        ops.knn_packed(xyz, xyz, 3, ptr, torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="float64"):
        ops.knn_packed(xyz.double(), xyz, 3, ptr, ptr)


def test_native_kernels_check_ptr_themselves():
    xyz = torch.rand(10, 3)
    with pytest.raises(RuntimeError, match="non-decreasing"):
        torch.ops.geo3d.knn_packed(
            xyz, xyz, torch.tensor([0, 6, 4, 10]), torch.tensor([0, 6, 4, 10]), 2
        )
    with pytest.raises(RuntimeError, match="asks for 5 samples"):
        torch.ops.geo3d.farthest_point_sample_packed(
            xyz,
            torch.tensor([0, 4, 10]),
            torch.tensor([0, 5, 7]),
            7,
            torch.zeros(2, dtype=torch.long),
        )
