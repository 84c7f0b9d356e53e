"""The sparse-convolution rulebook: the native neighbour lookup against its reference and
against a plainly written loop, the active outputs against a brute-force enumeration."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d.ops import (
    conv_output_shape,
    sparse_conv_neighbors,
    sparse_conv_neighbors_reference,
    sparse_conv_output_coords,
    sparse_conv_outputs_reference,
    sparse_conv_pairs,
)
from geo3d.ops._library import has_native_kernel, op
from tests.conftest import CUDA_SKIP_REASON, devices


def random_voxels(count, shape, batch, generator):
    columns = [torch.randint(0, batch, (count,), generator=generator)]
    columns += [torch.randint(0, s, (count,), generator=generator) for s in shape]
    coords = torch.unique(torch.stack(columns, dim=1), dim=0)
    return coords[torch.randperm(len(coords), generator=generator)].to(torch.int32)


def neighbors_by_loop(in_coords, out_coords, kernel, stride, padding, dilation):
    """For each output and offset, the input row whose coordinates equal the position."""
    where = {tuple(c): i for i, c in enumerate(in_coords.tolist())}
    offsets = list(itertools.product(*(range(k) for k in kernel)))
    table = []
    for b, *o in out_coords.tolist():
        row = []
        for offset in offsets:
            position = tuple(
                o[a] * stride[a] - padding[a] + offset[a] * dilation[a] for a in range(3)
            )
            row.append(where.get((b, *position), -1))
        table.append(row)
    return torch.tensor(table, dtype=torch.int64).reshape(len(table), len(offsets))


def outputs_by_enumeration(coords, shape, kernel, stride, padding, dilation):
    out_shape = conv_output_shape(shape, kernel, stride, padding, dilation)
    found = set()
    for b, *c in coords.tolist():
        for offset in itertools.product(*(range(k) for k in kernel)):
            numerator = [c[a] + padding[a] - offset[a] * dilation[a] for a in range(3)]
            if all(
                n % s == 0 and 0 <= n // s < size
                for n, s, size in zip(numerator, stride, out_shape)
            ):
                found.add((b, *(n // s for n, s in zip(numerator, stride))))
    return sorted(found), out_shape


geometry = st.tuples(
    st.lists(st.integers(1, 3), min_size=3, max_size=3),  # kernel
    st.lists(st.integers(1, 3), min_size=3, max_size=3),  # stride
    st.lists(st.integers(0, 2), min_size=3, max_size=3),  # padding
    st.lists(st.integers(1, 2), min_size=3, max_size=3),  # dilation
)


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(0, 120),
    shape=st.lists(st.integers(1, 9), min_size=3, max_size=3),
    batch=st.integers(1, 3),
    geometry=geometry,
    seed=st.integers(0, 2**31 - 1),
)
def test_outputs_and_neighbors_match_plain_loops(count, shape, batch, geometry, seed):
    kernel, stride, padding, dilation = geometry
    try:
        conv_output_shape(shape, kernel, stride, padding, dilation)
    except ValueError:
        return  # the kernel does not fit this grid: refused, as tested below
    coords = random_voxels(count, shape, batch, torch.Generator().manual_seed(seed))
    out, out_shape = sparse_conv_output_coords(coords, shape, kernel, stride, padding, dilation)
    expected, expected_shape = outputs_by_enumeration(
        coords, shape, kernel, stride, padding, dilation
    )
    assert out_shape == expected_shape and out.dtype == torch.int32
    assert [tuple(r) for r in out.tolist()] == expected
    args = (coords, shape, kernel, stride, padding, dilation, out_shape)
    assert torch.equal(sparse_conv_outputs_reference(*args), out)
    native = sparse_conv_neighbors(coords, out, shape, kernel, stride, padding, dilation)
    loop = neighbors_by_loop(coords, out, kernel, stride, padding, dilation)
    reference = sparse_conv_neighbors_reference(
        coords, out, shape, kernel, stride, padding, dilation
    )
    assert native.dtype == torch.int64 and native.shape == (
        len(out),
        kernel[0] * kernel[1] * kernel[2],
    )
    assert torch.equal(native, loop) and torch.equal(reference, loop)
    if len(out):  # every active output reads at least one input
        assert bool((native >= 0).any(dim=1).all())


def test_submanifold_neighbors_are_symmetric():
    """With the kernel centred, a reads b at offset k exactly when b reads a at the mirrored
    offset K - 1 - k, and every voxel reads itself at the centre."""
    coords = random_voxels(400, [6, 7, 8], 2, torch.Generator().manual_seed(3))
    table = sparse_conv_neighbors(coords, coords, [6, 7, 8], 3, 1, 1, 1)
    assert torch.equal(table[:, 13], torch.arange(len(coords)))
    rows, offsets = (table >= 0).nonzero(as_tuple=True)
    assert torch.equal(table[table[rows, offsets], 26 - offsets], rows)


def test_pairs_group_the_table_by_offset():
    coords = random_voxels(200, [5, 5, 5], 1, torch.Generator().manual_seed(1))
    table = sparse_conv_neighbors(coords, coords, [5, 5, 5], 3, 1, 1, 1)
    pair_in, pair_out, counts = sparse_conv_pairs(table, skip_offset=13)
    assert counts[13] == 0 and sum(counts) == len(pair_in) == int((table >= 0).sum()) - len(coords)
    start = 0
    for k, count in enumerate(counts):
        block_out = pair_out[start : start + count]
        assert torch.equal(table[block_out, k], pair_in[start : start + count])
        assert bool((block_out[1:] > block_out[:-1]).all())
        start += count


@pytest.mark.skipif(not has_native_kernel("sparse_conv_neighbors", "cpu"), reason="no native build")
def test_native_kernel_checks_before_touching_memory():
    coords = torch.tensor([[0, 1, 1, 1], [0, 1, 1, 1]], dtype=torch.int32)
    with pytest.raises(RuntimeError, match="same voxel"):
        op("sparse_conv_neighbors")(coords, coords, [4, 4, 4], [3] * 3, [1] * 3, [1] * 3, [1] * 3)
    outside = torch.tensor([[0, 9, 1, 1]], dtype=torch.int32)
    with pytest.raises(RuntimeError, match="outside the grid"):
        op("sparse_conv_neighbors")(outside, outside, [4, 4, 4], [3] * 3, [1] * 3, [1] * 3, [1] * 3)
    with pytest.raises(RuntimeError, match="kernel_size"):
        op("sparse_conv_neighbors")(
            coords[:1], coords[:1], [4, 4, 4], [0, 3, 3], [1] * 3, [1] * 3, [1] * 3
        )


@pytest.mark.parametrize("device", devices())
def test_every_device_finds_the_same_rulebook(device):
    coords = random_voxels(3000, [20, 30, 25], 2, torch.Generator().manual_seed(5))
    for kernel, stride, padding in [(3, 1, 1), (3, 2, 1), ((3, 1, 1), (2, 1, 1), 0)]:
        out, _ = sparse_conv_output_coords(coords, [20, 30, 25], kernel, stride, padding)
        expected = sparse_conv_neighbors(coords, out, [20, 30, 25], kernel, stride, padding)
        moved = sparse_conv_neighbors(
            coords.to(device), out.to(device), [20, 30, 25], kernel, stride, padding
        )
        assert moved.device.type == device and torch.equal(moved.cpu(), expected)
    with pytest.raises((ValueError, RuntimeError), match="same voxel|repeats a voxel"):
        twice = torch.cat([coords[:5], coords[:1]]).to(device)
        sparse_conv_neighbors(twice, twice, [20, 30, 25], 3, 1, 1)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_SKIP_REASON)
@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(0, 2000),
    shape=st.lists(st.integers(1, 40), min_size=3, max_size=3),
    batch=st.integers(1, 4),
    geometry=geometry,
    seed=st.integers(0, 2**31 - 1),
)
def test_cuda_outputs_equal_the_cpu_ones(count, shape, batch, geometry, seed):
    kernel, stride, padding, dilation = geometry
    try:
        conv_output_shape(shape, kernel, stride, padding, dilation)
    except ValueError:
        return
    coords = random_voxels(count, shape, batch, torch.Generator().manual_seed(seed))
    cpu, cpu_shape = sparse_conv_output_coords(coords, shape, kernel, stride, padding, dilation)
    cuda, cuda_shape = sparse_conv_output_coords(
        coords.cuda(), shape, kernel, stride, padding, dilation
    )
    assert cuda.is_cuda and cuda.dtype == torch.int32 and cuda_shape == cpu_shape
    assert torch.equal(cuda.cpu(), cpu)
    if torch.version.cuda and has_native_kernel("sparse_conv_outputs", "cpu"):
        assert has_native_kernel("sparse_conv_outputs", "cuda")


@pytest.mark.parametrize("device", devices())
def test_native_outputs_refuse_bad_rows(device):
    if not has_native_kernel("sparse_conv_outputs", device):
        pytest.skip(f"no native {device} kernel in this build")
    outside = torch.tensor([[0, 9, 1, 1]], dtype=torch.int32, device=device)
    with pytest.raises(RuntimeError, match="outside the grid"):
        op("sparse_conv_outputs")(outside, [4, 4, 4], [3] * 3, [2] * 3, [1] * 3, [1] * 3, [2] * 3)
    with pytest.raises(RuntimeError, match="out_shape"):
        op("sparse_conv_outputs")(outside, [10] * 3, [3] * 3, [2] * 3, [1] * 3, [1] * 3, [0] * 3)


@pytest.mark.parametrize("device", devices())
def test_huge_grids_find_the_same_outputs(device):
    """Output grids over 2^33 cells (2^32 on CUDA) leave the bitmap for keys and a sort."""
    shape = [500_000, 400_000, 300_000]
    g = torch.Generator().manual_seed(2)
    coords = torch.stack(
        [torch.randint(0, 2, (300,), generator=g)]
        + [torch.randint(0, s, (300,), generator=g) // 7 * 7 for s in shape]
        + [],
        dim=1,
    )
    coords = torch.unique(torch.cat([coords, coords + torch.tensor([0, 1, 0, 2])]), dim=0)
    coords = coords.to(torch.int32)
    out, out_shape = sparse_conv_output_coords(coords.to(device), shape, 3, 2, 1)
    expected, _ = outputs_by_enumeration(coords, shape, [3] * 3, [2] * 3, [1] * 3, [1] * 3)
    assert out.device.type == device and [tuple(r) for r in out.tolist()] == expected
