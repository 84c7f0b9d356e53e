"""Rotated box ops: the native kernels against an independent float64 reference (Green's
theorem over clipped edges, not clipping of polygons) and against shapely, on random boxes
(hypothesis) and on the cases where box-IoU code usually fails."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d.ops import (
    box_iou_3d,
    box_iou_bev,
    box_iou_reference,
    nms_bev,
    nms_bev_reference,
    points_in_boxes,
    points_in_boxes_reference,
)
from geo3d.ops._library import has_native_kernel, op
from geo3d.structures import points_in_boxes as dense_points_in_boxes
from tests.conftest import devices

needs_native = pytest.mark.skipif(
    not has_native_kernel("box_iou", "cpu"), reason="geo3d._C not built"
)


def random_boxes(n, generator, spread=6.0, far=0.0, dtype=torch.float64):
    b = torch.rand(n, 7, generator=generator, dtype=torch.float64)
    b[:, :3] = b[:, :3] * spread - spread / 2
    b[:, 0] += far
    b[:, 3:6] = b[:, 3:6] * 3 + 0.05
    b[:, 6] = b[:, 6] * 4 * math.pi - 2 * math.pi
    return b.to(dtype)


def shapely_iou(a, b):
    shapely = pytest.importorskip("shapely")
    from geo3d.structures import box_corners

    polygons = [
        [shapely.Polygon(c[:4, :2].tolist()) for c in box_corners(x.double())] for x in (a, b)
    ]
    out = torch.zeros(a.shape[0], b.shape[0], dtype=torch.float64)
    for i, p in enumerate(polygons[0]):
        for j, q in enumerate(polygons[1]):
            inter = p.intersection(q).area
            union = p.area + q.area - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


@needs_native
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 12),
    m=st.integers(1, 12),
    far=st.sampled_from([0.0, 70.0]),
)
@settings(max_examples=40, deadline=None)
def test_iou_equals_the_reference_and_shapely(seed, n, m, far):
    generator = torch.Generator().manual_seed(seed)
    a = random_boxes(n, generator, spread=3.0, far=far)
    b = random_boxes(m, generator, spread=3.0, far=far)
    bev = box_iou_bev(a, b)
    torch.testing.assert_close(bev, box_iou_reference(a, b, False), atol=1e-9, rtol=0)
    torch.testing.assert_close(bev, shapely_iou(a, b), atol=1e-9, rtol=0)
    torch.testing.assert_close(box_iou_3d(a, b), box_iou_reference(a, b, True), atol=1e-9, rtol=0)
    assert bev.shape == (n, m) and bev.dtype == torch.float64


@needs_native
def test_float32_boxes_far_from_the_sensor_stay_within_1e_4():
    generator = torch.Generator().manual_seed(1)
    a = random_boxes(200, generator, spread=2.0, far=65.0)
    b = random_boxes(200, generator, spread=2.0, far=65.0)
    got = box_iou_bev(a.float(), b.float())
    assert got.dtype == torch.float32
    exact = box_iou_reference(a.float().double(), b.float().double(), False)
    assert (got.double() - exact).abs().max() < 1e-4


@pytest.mark.parametrize("kernel", ["native", "reference"])
def test_the_cases_that_usually_break(kernel):
    if kernel == "native" and not has_native_kernel("box_iou", "cpu"):
        pytest.skip("geo3d._C not built")
    iou = box_iou_bev if kernel == "native" else (lambda a, b: box_iou_reference(a, b, False))
    box = torch.tensor([[10.0, -4.0, 0.0, 4.0, 2.0, 1.5, 0.7]], dtype=torch.float64)
    same_turned = box.clone()
    same_turned[0, 6] += math.pi
    assert float(iou(box, box)) == pytest.approx(1.0, abs=1e-12)
    assert float(iou(box, same_turned)) == pytest.approx(1.0, abs=1e-12)
    square = torch.tensor([[0.0, 0, 0, 2, 2, 2, 0]], dtype=torch.float64)
    touching = torch.tensor([[2.0, 0, 0, 2, 2, 2, 0], [2.0, 2, 0, 2, 2, 2, 0]], dtype=torch.float64)
    assert iou(square, touching).abs().max() < 1e-12  # along a side, at a corner
    inner = torch.tensor([[0.2, 0.1, 0, 1, 0.5, 2, 0.3]], dtype=torch.float64)
    assert float(iou(square, inner)) == pytest.approx(0.5 / 4, abs=1e-12)
    empty = torch.tensor([[0.0, 0, 0, 0, 0, 0, 0], [0.0, 0, 0, 2, 0, 2, 0]], dtype=torch.float64)
    zero = iou(torch.cat([square, empty]), torch.cat([square, empty]))
    assert (
        torch.isfinite(zero).all() and zero[1:, :].abs().max() == 0 and zero[:, 1:].abs().max() == 0
    )
    rotated = square.clone()
    rotated[0, 6] = math.pi / 4  # a square turned 45 degrees: the overlap is an octagon
    octagon = 4 * (math.sqrt(2) - 1) * 2  # area of the regular octagon of side 2(sqrt2 - 1)
    expected = octagon / (8 - octagon)
    assert float(iou(square, rotated)) == pytest.approx(expected, abs=1e-12)


def test_3d_iou_multiplies_the_height_overlap():
    a = torch.tensor([[0.0, 0, 0, 2, 2, 2, 0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 0, 1, 2, 2, 2, 0], [0.0, 0, 2, 2, 2, 2, 0]], dtype=torch.float64)
    got = box_iou_3d(a, b)
    assert got[0, 0].item() == pytest.approx(4 / 12, abs=1e-12) and got[0, 1].item() == 0.0
    assert box_iou_bev(a, b)[0].tolist() == pytest.approx([1.0, 1.0])


@needs_native
@pytest.mark.parametrize("seed", range(4))
def test_nms_equals_the_reference(seed):
    generator = torch.Generator().manual_seed(seed)
    boxes = random_boxes(120, generator, spread=8.0)
    scores = torch.rand(120, generator=generator)
    scores[::7] = 0.5  # ties: the lower index first
    labels = torch.randint(0, 3, (120,), generator=generator)
    for options in ({}, {"labels": labels}, {"pre_max": 50, "post_max": 10}):
        got = nms_bev(boxes, scores, 0.2, **options)
        chosen = options.get("labels", torch.zeros(0, dtype=torch.long))
        limits = options.get("pre_max", -1), options.get("post_max", -1)
        want = nms_bev_reference(boxes, scores, chosen, 0.2, *limits)
        assert torch.equal(got, want), options
    kept = nms_bev(boxes, scores, 0.2)
    iou = box_iou_bev(boxes[kept], boxes[kept])
    assert (iou - torch.eye(len(kept), dtype=iou.dtype)).max() <= 0.2  # no kept pair overlaps more
    assert bool((scores[kept].diff() <= 0).all())


def test_nms_suppresses_above_the_threshold_only():
    boxes = torch.tensor(
        [[0.0, 0, 0, 2, 2, 2, 0], [1.0, 0, 0, 2, 2, 2, 0], [5.0, 0, 0, 2, 2, 2, 0]],
        dtype=torch.float64,
    )
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms_bev(boxes, scores, 1 / 3).tolist() == [0, 1, 2]  # IoU 1/3 is not above 1/3
    assert nms_bev(boxes, scores, 0.3).tolist() == [0, 2]
    assert nms_bev(boxes, scores, 0.3, labels=torch.tensor([0, 1, 0])).tolist() == [0, 1, 2]
    assert nms_bev(boxes, scores, 0.3, post_max=1).tolist() == [0]
    assert nms_bev(boxes[:0], scores[:0], 0.3).tolist() == []


@needs_native
def test_points_in_boxes_gives_the_first_box_holding_each_point():
    generator = torch.Generator().manual_seed(5)
    boxes = random_boxes(30, generator, spread=6.0)
    points = torch.rand(3000, 4, generator=generator, dtype=torch.float64) * 8 - 4
    got = points_in_boxes(points, boxes)
    assert torch.equal(got, points_in_boxes_reference(points, boxes))
    mask = dense_points_in_boxes(points, boxes)
    first = torch.where(mask.any(1), mask.to(torch.int8).argmax(1), -1)
    assert torch.equal(got, first) and (got >= 0).sum() > 100
    face = torch.tensor([[1.0, 0.5, 1.0]], dtype=torch.float64)  # on a corner of the box
    assert points_in_boxes(
        face, torch.tensor([[0.0, 0, 0, 2, 1, 2, 0]], dtype=torch.float64)
    ).tolist() == [0]


def test_bad_boxes_are_named():
    good = torch.zeros(2, 7)
    with pytest.raises(ValueError, match=r"shape \(M, 7\)"):
        box_iou_bev(torch.zeros(2, 6), good)
    nan = good.clone()
    nan[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        box_iou_3d(good, nan)
    negative = good.clone()
    negative[1, 4] = -1
    with pytest.raises(ValueError, match="negative sizes"):
        nms_bev(negative, torch.rand(2), 0.5)
    with pytest.raises(ValueError, match="scores"):
        nms_bev(good, torch.rand(3), 0.5)
    with pytest.raises(ValueError, match="iou_threshold"):
        nms_bev(good, torch.rand(2), 1.5)
    with pytest.raises(ValueError, match="points"):
        points_in_boxes(torch.rand(4, 2), good)
    if not has_native_kernel("box_iou", "cpu"):
        return
    with pytest.raises(RuntimeError, match="negative sizes"):
        op("box_iou")(good, negative, False)
    with pytest.raises(RuntimeError, match="labels"):
        op("nms_bev")(good, torch.rand(2), torch.zeros(3, dtype=torch.long), 0.5, -1, -1)
    with pytest.raises(RuntimeError, match="points"):
        op("points_in_boxes")(torch.rand(4, 2), good)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_device_gives_the_reference(device, dtype):
    """The CUDA kernels (and the CPU ones) against the float64 reference; NMS and
    points-in-boxes exactly, IoU to rounding."""
    generator = torch.Generator().manual_seed(11)
    a = random_boxes(70, generator, spread=6.0, far=30.0).to(dtype)
    b = random_boxes(40, generator, spread=6.0, far=30.0).to(dtype)
    scores = torch.rand(70, generator=generator)
    labels = torch.randint(0, 2, (70,), generator=generator)
    points = (torch.rand(4000, 4, generator=generator, dtype=torch.float64) * 8 - 4).to(dtype)
    points[:, 0] += 30
    on = {name: t.to(device) for name, t in dict(a=a, b=b, s=scores, l=labels, p=points).items()}
    for three_d in (False, True):
        got = (box_iou_3d if three_d else box_iou_bev)(on["a"], on["b"])
        assert got.device.type == device and got.dtype == dtype
        want = box_iou_reference(a.double(), b.double(), three_d)
        assert (got.cpu().double() - want).abs().max() < (1e-4 if dtype == torch.float32 else 1e-9)
    for options in ({}, {"labels": on["l"]}, {"pre_max": 40, "post_max": 7}):
        got = nms_bev(on["a"], on["s"], 0.1, **options)
        cpu_options = {
            k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in options.items()
        }
        assert torch.equal(got.cpu(), nms_bev(a, scores, 0.1, **cpu_options)), options
    got = points_in_boxes(on["p"], on["a"])
    assert got.device.type == device
    assert torch.equal(got.cpu(), points_in_boxes(points, a))
