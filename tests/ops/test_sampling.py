import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d import ops
from tests.conftest import devices


def random_lengths(batch, n, generator):
    return torch.randint(1, n + 1, (batch,), generator=generator)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "batch,n,m",
    [(1, 1, 1), (4, 37, 10), (3, 500, 64), (2, 3000, 300), (1, 40000, 400)],
)
def test_fps_matches_reference(device, dtype, batch, n, m):
    g = torch.Generator().manual_seed(n * 31 + m)
    xyz = (torch.rand(batch, n, 3, generator=g, dtype=dtype) * 10).to(device)
    lengths = random_lengths(batch, n, g).to(device)
    lengths[0] = n
    start = (torch.rand(batch, generator=g) * lengths.cpu()).long().to(device)
    got = ops.farthest_point_sample(xyz, m, lengths, start)
    want = ops.farthest_point_sample_reference(xyz, lengths, m, start)
    assert got.dtype == torch.int64 and got.device == xyz.device and got.shape == (batch, m)
    assert torch.equal(got, want)


@given(
    n=st.integers(1, 300),
    m=st.integers(1, 320),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
    grid=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_fps_property_random_and_duplicate_points(n, m, batch, seed, grid):
    g = torch.Generator().manual_seed(seed)
    xyz = torch.rand(batch, n, 3, generator=g)
    if grid:  # many exact duplicates and equal distances: ties must go to the lowest index
        xyz = torch.floor(xyz * 3)
    lengths = random_lengths(batch, n, g)
    got = ops.farthest_point_sample(xyz, m, lengths)
    want = ops.farthest_point_sample_reference(
        xyz, lengths, m, torch.zeros(batch, dtype=torch.long)
    )
    assert torch.equal(got, want)


def test_fps_large_cloud_with_duplicates_uses_tree_path():
    g = torch.Generator().manual_seed(5)
    xyz = torch.floor(torch.rand(1, 50000, 3, generator=g) * 20)  # 8000 distinct positions
    got = ops.farthest_point_sample(xyz, 600)
    want = ops.farthest_point_sample_reference(
        xyz, torch.tensor([50000]), 600, torch.zeros(1, dtype=torch.long)
    )
    assert torch.equal(got, want)


def test_fps_hand_checked_line():
    # Points on a line at 0, 1, 2, 10: from 0 the farthest is 10, then 2 (d=4) beats 1 (d=1).
    xyz = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [10, 0, 0]]])
    assert ops.farthest_point_sample(xyz, 4).tolist() == [[0, 3, 2, 1]]
    assert ops.farthest_point_sample(xyz, 2, start_idx=3).tolist() == [[3, 0]]


def test_fps_ties_go_to_lowest_index_and_tail_is_minus_one():
    # A square: from corner 0, corners 1 and 3 tie at distance 1... the diagonal 2 is farthest.
    xyz = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [5, 5, 5]]])
    out = ops.farthest_point_sample(xyz, 7, lengths=torch.tensor([4]))
    assert out.tolist() == [[0, 2, 1, 3, -1, -1, -1]]


def test_fps_all_duplicates_repeats_lowest_index():
    xyz = torch.ones(1, 5, 3)
    assert ops.farthest_point_sample(xyz, 3, start_idx=2).tolist() == [[2, 0, 0]]


def test_fps_zero_length_cloud_in_batch_is_all_minus_one():
    xyz = torch.rand(2, 10, 3)
    out = ops.farthest_point_sample(xyz, 3, lengths=torch.tensor([10, 0]))
    assert (out[1] == -1).all() and (out[0] >= 0).all()


def test_fps_start_idx_tensor():
    xyz = torch.rand(3, 100, 3)
    start = torch.tensor([5, 17, 99])
    out = ops.farthest_point_sample(xyz, 4, start_idx=start)
    assert out[:, 0].tolist() == [5, 17, 99]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(xyz=torch.rand(10, 3), num_samples=2), "xyz"),
        (dict(xyz=torch.rand(1, 10, 2), num_samples=2), "xyz"),
        (dict(xyz=torch.rand(1, 10, 3).half(), num_samples=2), "float32 or float64"),
        (dict(xyz=torch.rand(1, 10, 3), num_samples=0), "num_samples"),
        (dict(xyz=torch.rand(1, 0, 3), num_samples=1), "empty cloud"),
        (dict(xyz=torch.rand(1, 10, 3), num_samples=2, lengths=torch.tensor([11])), "lengths"),
        (dict(xyz=torch.rand(1, 10, 3), num_samples=2, lengths=torch.tensor([1, 2])), "lengths"),
        (dict(xyz=torch.rand(1, 10, 3), num_samples=2, start_idx=10), "start_idx"),
        (dict(xyz=torch.rand(1, 10, 3), num_samples=2, start_idx=-1), "start_idx"),
    ],
)
def test_fps_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ops.farthest_point_sample(**kwargs)


def test_fps_nan_coordinates_rejected_but_nan_padding_ignored():
    xyz = torch.rand(1, 10, 3)
    xyz[0, 7, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        ops.farthest_point_sample(xyz, 3)
    out = ops.farthest_point_sample(xyz, 3, lengths=torch.tensor([7]))
    assert (out < 7).all()
