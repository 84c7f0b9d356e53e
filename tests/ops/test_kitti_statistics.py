"""KITTI's matching statistics: the native kernel equals the line-for-line reference of the
official ``compute_statistics_jit`` on random packed frames (ignored boxes, other classes,
DontCare regions, ties), and refuses inconsistent packing."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d.ops import kitti_statistics, kitti_statistics_python
from geo3d.ops._library import has_native_kernel


def random_frames(seed: int, frames: int, max_gt: int, max_dt: int, max_dc: int) -> dict:
    g = torch.Generator().manual_seed(seed)

    def counts(high):
        return torch.randint(0, high + 1, (frames,), generator=g)

    num_gt, num_dt, num_dc = counts(max_gt), counts(max_dt), counts(max_dc)

    def ptr(values):
        return torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(values, 0)])

    # Overlaps on a coarse grid so that ties and exact thresholds occur.
    sizes = num_dt * num_gt
    overlaps = torch.randint(0, 11, (int(sizes.sum()),), generator=g).double() / 10
    dontcare = torch.randint(0, 11, (int((num_dt * num_dc).sum()),), generator=g).double() / 10
    total_gt, total_dt = int(num_gt.sum()), int(num_dt.sum())
    return {
        "overlaps": overlaps,
        "overlap_ptr": ptr(sizes),
        "gt_ptr": ptr(num_gt),
        "dt_ptr": ptr(num_dt),
        "ignored_gt": torch.randint(-1, 2, (total_gt,), generator=g),
        "ignored_dt": torch.randint(-1, 2, (total_dt,), generator=g),
        "scores": torch.randint(0, 20, (total_dt,), generator=g).double() / 20,
        "gt_alpha": torch.rand(total_gt, generator=g, dtype=torch.float64) * 6 - 3,
        "dt_alpha": torch.rand(total_dt, generator=g, dtype=torch.float64) * 6 - 3,
        "dontcare": dontcare,
        "dontcare_ptr": ptr(num_dc),
    }


def test_the_native_kernel_is_loaded():
    assert has_native_kernel("kitti_statistics", "cpu")


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    frames=st.integers(0, 6),
    max_gt=st.integers(0, 5),
    max_dt=st.integers(0, 7),
    max_dc=st.integers(0, 2),
    min_overlap=st.sampled_from([0.0, 0.5, 0.7]),
    aos=st.booleans(),
)
def test_native_equals_reference(seed, frames, max_gt, max_dt, max_dc, min_overlap, aos):
    packed = random_frames(seed, frames, max_gt, max_dt, max_dc)
    found = kitti_statistics(packed, None, min_overlap)
    torch.testing.assert_close(found, kitti_statistics_python(packed, None, min_overlap))
    thresholds = torch.tensor([0.0, 0.25, 0.5, 0.5, 0.95], dtype=torch.float64)
    counts = kitti_statistics(packed, thresholds, min_overlap, aos)
    assert counts.shape == (5, 4) and counts.dtype == torch.float64
    torch.testing.assert_close(
        counts, kitti_statistics_python(packed, thresholds, min_overlap, aos)
    )


def test_a_hand_built_frame():
    # One car matched (overlap 0.8), one missed; a second detection over the first car is a
    # false positive; a third lies in a DontCare region and is absorbed.
    packed = {
        "overlaps": torch.tensor([0.8, 0.0, 0.75, 0.0, 0.0, 0.0], dtype=torch.float64),
        "overlap_ptr": torch.tensor([0, 6]),
        "gt_ptr": torch.tensor([0, 2]),
        "dt_ptr": torch.tensor([0, 3]),
        "ignored_gt": torch.tensor([0, 0]),
        "ignored_dt": torch.tensor([0, 0, 0]),
        "scores": torch.tensor([0.9, 0.6, 0.3], dtype=torch.float64),
        "gt_alpha": torch.tensor([0.0, 0.0], dtype=torch.float64),
        "dt_alpha": torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64),
        "dontcare": torch.tensor([0.0, 0.0, 0.9], dtype=torch.float64),
        "dontcare_ptr": torch.tensor([0, 1]),
    }
    assert kitti_statistics(packed, None, 0.7).tolist() == [0.9]
    counts = kitti_statistics(packed, torch.tensor([0.0, 0.7], dtype=torch.float64), 0.7, True)
    assert counts.tolist() == [[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 1.0]]


def test_inconsistent_packing_is_refused():
    packed = random_frames(0, 3, 3, 3, 1)
    bad = dict(packed, overlaps=packed["overlaps"][:-1]) if packed["overlaps"].numel() else None
    thresholds = torch.zeros(1, dtype=torch.float64)
    if bad is not None:
        with pytest.raises(RuntimeError, match="overlaps"):
            kitti_statistics(bad, thresholds, 0.5)
    with pytest.raises(RuntimeError, match="one length"):
        kitti_statistics(dict(packed, dt_ptr=packed["dt_ptr"][:-1]), thresholds, 0.5)
    with pytest.raises(RuntimeError, match="must be Double"):
        kitti_statistics(dict(packed, scores=packed["scores"].float()), thresholds, 0.5)
    with pytest.raises(ValueError, match="lacks"):
        kitti_statistics({"overlaps": packed["overlaps"]}, thresholds, 0.5)
