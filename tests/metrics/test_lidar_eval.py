"""Detection AP in the LiDAR frame: KITTI's sampling, difficulty by points and distance."""

import math

import numpy as np
import pytest

from geo3d.metrics.lidar_detection import lidar_eval


def cars(centres, points=100, names=None):
    boxes = np.array([[x, y, -1.0, 3.9, 1.6, 1.5, 0.3] for x, y in centres]).reshape(-1, 7)
    n = len(centres)
    return {"boxes": boxes, "names": names or ["Car"] * n, "num_points": np.full(n, points)}


def detected(frame, scores):
    return {
        "boxes": frame["boxes"].copy(),
        "names": list(frame["names"]),
        "scores": np.array(scores),
    }


def test_a_perfect_detector_on_ten_cars_scores_as_kitti():
    gt = cars(
        [(10.0 + 5 * i, 2.0) for i in range(4)]
        + [(-10.0 - 5 * i, -3.0) for i in range(4)]
        + [(0.0, 12.0), (0.0, -12.0)]
    )
    results = lidar_eval([gt], [detected(gt, np.linspace(0.9, 0.5, 10))], classes=("Car",))
    assert results["Car_bev_easy_R40"] == pytest.approx(22.5)
    assert results["Car_3d_hard_R11"] == pytest.approx(300 / 11)


def test_levels_by_distance_and_points():
    """A car at 40 m is ignored for easy, counted for moderate; a car with 10 points only
    for hard. A detection 35 m away with nothing there is no false positive for easy."""
    near, far = cars([(10.0, 0.0)]), cars([(40.0, 0.0)])
    sparse = cars([(0.0, 15.0)], points=10)
    gt = {
        k: np.concatenate([near[k], far[k], sparse[k]])
        if k != "names"
        else near[k] + far[k] + sparse[k]
        for k in near
    }
    ghost = cars([(0.0, -35.0)])
    dt = detected(gt, [0.9, 0.8, 0.7])
    dt = {
        "boxes": np.concatenate([dt["boxes"], ghost["boxes"]]),
        "names": dt["names"] + ["Car"],
        "scores": np.append(dt["scores"], 0.95),
    }
    results = lidar_eval([gt], [dt], classes=("Car",))
    assert results["Car_bev_easy_R11"] == pytest.approx(100 / 11)  # 1 car, precision 1
    assert results["Car_bev_easy_R40"] == 0.0
    # moderate: 2 cars (near, far); the ghost at 35 m is a false positive above both hits
    assert results["Car_bev_moderate_R40"] == pytest.approx(100 * (2 / 3) / 40)
    assert results["Car_bev_hard_R40"] == pytest.approx(100 * (3 / 4) / 40 * 2)


def test_a_detection_turned_by_pi_matches_and_one_shifted_does_not():
    gt = cars([(10.0, 0.0), (20.0, 0.0)])
    dt = detected(gt, [0.9, 0.8])
    dt["boxes"][0, 6] += math.pi  # the same box
    dt["boxes"][1, 0] += 1.0  # IoU (3.9 - 1) / (3.9 + 1) = 0.59 < 0.7
    results = lidar_eval([gt], [dt], classes=("Car",))
    assert results["Car_bev_easy_R11"] == pytest.approx(100 / 11)  # one hit of two, precision 1
    assert results["Car_3d_easy_R40"] == 0.0


def test_bad_frames_are_named():
    gt = cars([(10.0, 0.0)])
    with pytest.raises(ValueError, match="one score per box"):
        lidar_eval([gt], [{"boxes": gt["boxes"], "names": ["Car"], "scores": []}])
    with pytest.raises(ValueError, match="1 boxes but 2 names"):
        lidar_eval([{**gt, "names": ["Car", "Car"]}], [detected(gt, [0.5])])
