"""Slot rows: segment reductions through gathers, exact for voxels of any size, against the
scatter reductions and the plain formulas on random segments (hypothesis)."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d.ops import scatter
from geo3d.pooling.slot_rows import (
    rows_count,
    rows_max,
    rows_mean,
    rows_softmax_sum,
    rows_sum,
    slot_rows,
)


def test_rows_list_each_voxels_points_in_order():
    index = torch.tensor([2, 0, 2, 1, 2, 0, 2])
    rows = slot_rows(index, 4, width=2)
    # voxel 0: points 1, 5; voxel 1: 3; voxel 2: 0, 2, 4, 6 in two rows; voxel 3: empty
    assert rows.row_slots.tolist() == [[1, 5], [3, -1], [0, 2], [4, 6]]
    assert rows.voxel_rows.tolist() == [[0, -1], [1, -1], [2, 3], [-1, -1]]
    assert rows_count(rows).tolist() == [2.0, 1.0, 4.0, 0.0]


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 9), min_size=1, max_size=12),
    width=st.integers(1, 4),
    seed=st.integers(0, 10_000),
)
def test_reductions_equal_the_scatter_ones(sizes, width, seed):
    g = torch.Generator().manual_seed(seed)
    index = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    index = index[torch.randperm(index.shape[0], generator=g)]
    values = torch.randn(index.shape[0], 5, generator=g, dtype=torch.float64) * 10
    rows = slot_rows(index, len(sizes), width)
    count = len(sizes)
    empty = torch.tensor(sizes) == 0
    torch.testing.assert_close(rows_max(values, rows), scatter(values, index, count, "max"))
    torch.testing.assert_close(rows_sum(values, rows), scatter(values, index, count, "sum"))
    torch.testing.assert_close(rows_mean(values, rows), scatter(values, index, count, "mean"))
    soft = rows_softmax_sum(values, values, rows)
    torch.testing.assert_close(soft, scatter(values, index, count, "soft"))
    assert bool((soft[empty] == 0).all())


def test_softmax_sum_is_exact_for_a_large_voxel_without_overflow():
    """One voxel of 1,612 points (a real KITTI pillar's count) in 51 rows of 32, scores far
    beyond exp's range: equal to the softmax over all points at once."""
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(1612, 2, 1, generator=g, dtype=torch.float64) * 300
    values = torch.randn(1612, 2, 3, generator=g, dtype=torch.float64)
    rows = slot_rows(torch.zeros(1612, dtype=torch.long), 1)
    assert rows.voxel_rows.shape == (1, 51)
    got = rows_softmax_sum(scores, values, rows)[0]
    want = (torch.softmax(scores, dim=0) * values).sum(0)
    torch.testing.assert_close(got, want)
