"""DSVT's set partition against a plainly written per-window loop (the paper's rule read
directly), on random voxel sets with windows of one voxel and of more than set_size."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d.ops import set_partition, set_partition_reference
from geo3d.ops._library import has_native_kernel
from tests.conftest import CUDA_SKIP_REASON, devices


def random_voxels(count, shape, batch, generator):
    columns = [torch.randint(0, batch, (count,), generator=generator)]
    columns += [torch.randint(0, s, (count,), generator=generator) for s in shape]
    coords = torch.unique(torch.stack(columns, dim=1), dim=0)
    return coords[torch.randperm(len(coords), generator=generator)].to(torch.int32)


def partition_by_loop(coords, shape, window, shift, set_size):
    """Window by window in number order: sort its voxels both ways, cut into sets."""
    counts = [math.ceil(s / w) + 1 for s, w in zip(shape, window)]
    shift = [0 if shape[0] == window[0] else shift[0], shift[1], shift[2]]
    windows = {}
    for row, (b, *zyx) in enumerate(coords.tolist()):
        shifted = [c + s for c, s in zip(zyx, shift)]
        cell = [c // w for c, w in zip(shifted, window)]
        local = [c % w for c, w in zip(shifted, window)]
        number = (
            b * counts[0] * counts[1] * counts[2]
            + (cell[2] * counts[1] + cell[1]) * counts[0]
            + cell[0]
        )
        windows.setdefault(number, []).append((local, row))
    sets = ([], [])
    for number in sorted(windows):
        members = windows[number]
        by_y = [row for local, row in sorted(members, key=lambda m: (m[0][1], m[0][2], m[0][0]))]
        by_x = [row for local, row in sorted(members, key=lambda m: (m[0][2], m[0][1], m[0][0]))]
        n = len(members)
        num_sets = -(-n // set_size)
        for j in range(num_sets):
            ranks = [int((j * set_size + t) * n / (num_sets * set_size)) for t in range(set_size)]
            sets[0].append([by_y[r] for r in ranks])
            sets[1].append([by_x[r] for r in ranks])
    return torch.tensor(sets, dtype=torch.int64).reshape(2, -1, set_size)


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(1, 400),
    shape=st.tuples(st.integers(1, 6), st.integers(1, 40), st.integers(1, 40)),
    window=st.tuples(st.integers(1, 6), st.integers(1, 12), st.integers(1, 12)),
    shift_fraction=st.tuples(st.floats(0, 0.99), st.floats(0, 0.99), st.floats(0, 0.99)),
    set_size=st.integers(1, 40),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
)
def test_partition_matches_the_per_window_loop(
    count, shape, window, shift_fraction, set_size, batch, seed
):
    shift = [int(f * w) for f, w in zip(shift_fraction, window)]
    coords = random_voxels(count, shape, batch, torch.Generator().manual_seed(seed))
    got = set_partition(coords, shape, window, shift, set_size)
    expected = partition_by_loop(coords, shape, window, shift, set_size)
    assert got.sets.dtype == torch.int64 and torch.equal(got.sets, expected)
    reference = set_partition_reference(coords, list(shape), list(window), shift, set_size)
    assert torch.equal(reference[0], expected) and torch.equal(reference[1], got.coords_in_window)
    # every voxel appears in its window's sets, in both orders; masks mark exact repeats
    for order in range(2):
        assert set(got.sets[order].flatten().tolist()) == set(range(len(coords)))
    repeats = got.sets[..., 1:] == got.sets[..., :-1]
    assert torch.equal(got.masks[..., 1:], repeats) and not got.masks[..., 0].any()


def test_official_pillar_windows_by_hand():
    """A window with one voxel fills all 36 slots with it (35 masked); one with 40 voxels gets
    two sets whose slots take ranks floor(k * 40 / 72)."""
    lone = torch.tensor([[0, 0, 30, 30]], dtype=torch.int32)
    crowd = torch.tensor([[0, 0, y, x] for y in range(5) for x in range(8)], dtype=torch.int32)
    got = set_partition(torch.cat([crowd, lone]), [1, 48, 48], (1, 12, 12), (0, 0, 0), 36)
    assert got.sets.shape == (2, 3, 36)
    assert torch.equal(got.sets[0, 2], torch.full((36,), 40)) and int(got.masks[0, 2].sum()) == 35
    ranks = [k * 40 // 72 for k in range(72)]
    assert got.sets[0, :2].flatten().tolist() == ranks  # crowd rows are already y-major
    by_x = sorted(range(40), key=lambda r: (r % 8, r // 8))
    assert got.sets[1, :2].flatten().tolist() == [by_x[r] for r in ranks]


def test_shifted_windows_and_in_window_coordinates():
    coords = torch.tensor([[0, 0, 5, 5], [0, 0, 6, 6], [0, 0, 17, 18]], dtype=torch.int32)
    got = set_partition(coords, [1, 48, 48], (1, 24, 24), (0, 6, 6), 4)
    # shifted by 6: (11, 11), (12, 12), (23, 24) -> windows (0, 0), (0, 0), (0, 1)
    assert got.coords_in_window.tolist() == [[0, 11, 11], [0, 12, 12], [0, 23, 0]]
    assert got.sets.shape == (2, 2, 4)


@pytest.mark.parametrize("device", devices())
def test_devices_agree(device):
    coords = random_voxels(3000, [1, 200, 200], 2, torch.Generator().manual_seed(4))
    cpu = set_partition(coords, [1, 200, 200], (1, 12, 12), (0, 6, 6), 36)
    moved = set_partition(coords.to(device), [1, 200, 200], (1, 12, 12), (0, 6, 6), 36)
    assert moved.sets.device.type == device and torch.equal(moved.sets.cpu(), cpu.sets)
    assert moved.masks.device.type == device and torch.equal(moved.masks.cpu(), cpu.masks)
    assert torch.equal(moved.coords_in_window.cpu(), cpu.coords_in_window)
    if device == "cuda" and torch.version.cuda and has_native_kernel("set_partition", "cpu"):
        assert has_native_kernel("set_partition", "cuda")  # a CUDA build serves it natively


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_SKIP_REASON)
@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(0, 3000),
    shape=st.tuples(st.integers(1, 8), st.integers(1, 300), st.integers(1, 300)),
    window=st.tuples(st.integers(1, 8), st.integers(1, 30), st.integers(1, 30)),
    set_size=st.integers(1, 64),
    batch=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_cuda_partition_equals_the_cpu_one(count, shape, window, set_size, batch, seed):
    coords = random_voxels(count, shape, batch, torch.Generator().manual_seed(seed))
    shift = [w // 2 for w in window]
    cpu = set_partition(coords, shape, window, shift, set_size)
    cuda = set_partition(coords.cuda(), shape, window, shift, set_size)
    assert cuda.sets.is_cuda and cuda.sets.dtype == torch.int64
    assert torch.equal(cuda.sets.cpu(), cpu.sets)
    assert torch.equal(cuda.coords_in_window.cpu(), cpu.coords_in_window)


@pytest.mark.parametrize("device", devices())
def test_native_kernel_refuses_bad_rows(device):
    """Past the Python checks, straight into the dispatcher: a row off the grid and a repeated
    voxel are named by the kernel of every device."""
    if not has_native_kernel("set_partition", device):
        pytest.skip(f"no native {device} kernel in this build")
    coords = torch.tensor([[0, 0, 1, 2], [0, 0, 5, 5], [0, 0, 1, 2]], dtype=torch.int32)
    partition = torch.ops.geo3d.set_partition
    with pytest.raises(RuntimeError, match="rows 0 and 2 are the same voxel"):
        partition(coords.to(device), [1, 10, 10], [1, 4, 4], [0, 0, 0], 8)
    with pytest.raises(RuntimeError, match=r"'coords'\[1\] = \(0, 0, 5, 5\) is outside"):
        partition(coords.to(device), [1, 4, 10], [1, 4, 4], [0, 0, 0], 8)
    with pytest.raises(RuntimeError, match="set_size"):
        partition(coords.to(device), [1, 10, 10], [1, 4, 4], [0, 0, 0], 0)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda c: set_partition(c, [1, 10, 10], (1, 4, 4), (0, 4, 0), 8),
            "smaller than the window",
        ),
        (lambda c: set_partition(c, [1, 10, 10], (1, 4, 4), (0, 0, 0), 0), "'set_size'"),
        (lambda c: set_partition(c.float(), [1, 10, 10], (1, 4, 4), (0, 0, 0), 8), "int32"),
        (lambda c: set_partition(c, [1, 3, 10], (1, 4, 4), (0, 0, 0), 8), "outside the grid"),
        (
            lambda c: set_partition(torch.cat([c, c[:1]]), [1, 10, 10], (1, 4, 4), (0, 0, 0), 8),
            "same voxel",
        ),
    ],
)
def test_bad_input_is_named(call, message):
    coords = torch.tensor([[0, 0, 1, 2], [0, 0, 5, 5]], dtype=torch.int32)
    with pytest.raises((ValueError, RuntimeError), match=message):
        call(coords)
