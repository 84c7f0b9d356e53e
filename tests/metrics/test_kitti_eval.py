"""KITTI's official AP on hand-built frames whose values are derived by hand, quirks of the
official sampling included (precision per score threshold, at most 41 of them)."""

import math

import numpy as np
import pytest

from geo3d.metrics.kitti import (
    _rotated_overlaps,
    average_precision_r11,
    average_precision_r40,
    kitti_eval,
    score_thresholds,
)


def frame(cars, names=None, heights=None, scores=None, occluded=None):
    """Cars at ``(x, z)`` in the camera frame (3.9 x 1.6 x 1.5 m, facing +x), with 2D boxes
    ``heights`` pixels tall (50: easy)."""
    n = len(cars)
    heights = heights or [50.0] * n
    anno = {
        "name": names or ["Car"] * n,
        "truncated": np.zeros(n),
        "occluded": np.array(occluded or [0] * n),
        "alpha": np.zeros(n),
        "bbox": np.array(
            [[100.0 * i, 100, 100.0 * i + 80, 100 + h] for i, h in enumerate(heights)]
        ),
        "dimensions": np.array([[3.9, 1.5, 1.6]] * n).reshape(-1, 3),
        "location": np.array([[x, 1.7, z] for x, z in cars]).reshape(-1, 3),
        "rotation_y": np.zeros(n),
    }
    if scores is not None:
        anno["score"] = np.array(scores, dtype=np.float64)
    return anno


def cars_in_a_row(count):
    return [(4.0 * (i % 10) - 20, 10.0 + 5 * (i // 10)) for i in range(count)]


@pytest.mark.parametrize("count,r40,r11", [(10, 22.5, 300 / 11), (100, 100.0, 100.0)])
def test_a_perfect_detector_scores_as_the_official_code(count, r40, r11):
    cars = cars_in_a_row(count)
    gt = [frame(cars)]
    dt = [frame(cars, scores=list(np.linspace(0.99, 0.5, count)))]
    results = kitti_eval(gt, dt, classes=("Car",))
    for metric in ("bbox", "bev", "3d", "aos"):
        assert results[f"Car_{metric}_easy_R40"] == pytest.approx(r40)
        assert results[f"Car_{metric}_easy_R11"] == pytest.approx(r11)


def test_a_false_positive_between_two_hits():
    """2 cars; detections: a hit (0.9), a miss (0.8), a hit (0.7). Thresholds [0.9, 0.7]:
    precision 1 then 2/3 (monotone), so R40 = (2/3) / 40 and R11 = 1 / 11."""
    gt = [frame([(0.0, 10.0), (5.0, 10.0)])]
    dt = [frame([(0.0, 10.0), (-8.0, 30.0), (5.0, 10.0)], scores=[0.9, 0.8, 0.7])]
    results = kitti_eval(gt, dt, classes=("Car",))
    assert results["Car_3d_easy_R40"] == pytest.approx(100 * (2 / 3) / 40)
    assert results["Car_3d_easy_R11"] == pytest.approx(100 / 11)


def test_difficulty_ignores_short_boxes_without_counting_them_false():
    """A 30-pixel car is ignored for easy (and its detection, as short, is neither true nor
    false) but counts for moderate."""
    gt = [frame([(0.0, 10.0), (5.0, 10.0)], heights=[50.0, 30.0])]
    dt = [frame([(0.0, 10.0), (5.0, 10.0)], heights=[50.0, 30.0], scores=[0.9, 0.8])]
    results = kitti_eval(gt, dt, classes=("Car",))
    assert results["Car_3d_easy_R11"] == pytest.approx(100 / 11)  # one threshold, precision 1
    assert results["Car_3d_easy_R40"] == 0.0  # sample 0 is not part of R40
    assert results["Car_3d_moderate_R40"] == pytest.approx(100 / 40)  # two thresholds
    assert results["Car_3d_moderate_R11"] == pytest.approx(100 / 11)


def test_dontcare_absorbs_false_positives_in_the_2d_metric_only():
    gt = frame([(0.0, 10.0), (9.0, 40.0)], names=["Car", "DontCare"])
    gt["bbox"][1] = [400, 100, 600, 300]
    dt = frame([(0.0, 10.0), (-9.0, 40.0)], scores=[0.9, 0.95])
    dt["bbox"][1] = [450, 150, 550, 250]  # inside the DontCare region
    results = kitti_eval([gt], [dt], classes=("Car",))
    assert results["Car_bbox_easy_R11"] == pytest.approx(100 / 11)  # precision 1
    assert results["Car_3d_easy_R11"] == pytest.approx(50 / 11)  # precision 1/2


def test_overlaps_follow_the_camera_frame():
    a = frame([(0.0, 10.0)])
    turned = frame([(0.0, 10.0)])
    turned["rotation_y"] = np.array([math.pi / 2])  # length along z now
    assert _rotated_overlaps(a, a, True)[0, 0] == pytest.approx(1.0)
    ratio = 1.6 * 1.6 / (2 * 3.9 * 1.6 - 1.6 * 1.6)  # the crossing of two 3.9 x 1.6 boxes
    assert _rotated_overlaps(a, turned, False)[0, 0] == pytest.approx(ratio)
    lifted = frame([(0.0, 10.0)])
    lifted["location"][0, 1] -= 0.75  # half the height higher (y points down)
    assert _rotated_overlaps(a, lifted, True)[0, 0] == pytest.approx(1 / 3)


def test_threshold_sampling_and_averages_by_hand():
    assert score_thresholds([0.9, 0.7], 2) == [0.9, 0.7]
    assert len(score_thresholds(list(np.linspace(1, 0, 200)), 200)) == 41
    precision = np.zeros(41)
    precision[:10] = 1
    assert average_precision_r40(precision) == pytest.approx(22.5)
    assert average_precision_r11(precision) == pytest.approx(300 / 11)


def test_bad_annotations_are_named():
    gt = frame([(0.0, 10.0)])
    with pytest.raises(ValueError, match="lacks \\['score'\\]"):
        kitti_eval([gt], [frame([(0.0, 10.0)])])
    with pytest.raises(ValueError, match="1 ground-truth frames but 2"):
        kitti_eval([gt], [gt, gt])
    with pytest.raises(ValueError, match="unknown KITTI classes"):
        kitti_eval([gt], [frame([(0.0, 10.0)], scores=[0.5])], classes=("Bus",))


def test_aos_skips_frames_without_detections_as_the_official_code():
    """The official ``compute_statistics_jit`` says similarity -1 for a frame with neither
    true nor false positives and ``fused_compute_statistics`` adds only values other than -1.
    Ten frames with a car each, detected (with the right orientation) in the first nine:
    AOS equals the 2D AP; adding the -1s would drive it to (9 - 1) / 9 of it."""
    cars = [(0.0, 10.0)]
    gt = [frame(cars) for _ in range(10)]
    dt = [frame(cars, scores=[0.9 - 0.01 * i]) for i in range(9)] + [frame([], scores=[])]
    results = kitti_eval(gt, dt, classes=("Car",))
    # 9 thresholds with precision 1; R40 skips sample 0
    assert results["Car_bbox_easy_R40"] == pytest.approx(100 * 8 / 40)
    assert results["Car_aos_easy_R40"] == pytest.approx(results["Car_bbox_easy_R40"])
    turned = [dict(d, alpha=d["alpha"] + math.pi / 2) for d in dt]  # similarity 1/2 each
    results = kitti_eval(gt, turned, classes=("Car",))
    assert results["Car_aos_easy_R40"] == pytest.approx(results["Car_bbox_easy_R40"] / 2)
