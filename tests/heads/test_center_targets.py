"""CenterPoint's heatmap targets: CenterNet's radius (quirk kept), the gaussian, drawing."""

import math

import pytest
import torch

from geo3d.heads.center_targets import (
    draw_gaussian,
    gaussian_kernel,
    gaussian_radius,
    object_radius,
)


def test_radius_is_centernets_formula_by_hand():
    """4 x 4 cells at overlap 0.1: the three roots (b + sqrt(b^2 - 4ac)) / 2 are 5.706,
    10.530 and 1.730; the smallest is the radius."""
    r1 = (8 + math.sqrt(64 - 4 * 16 * 0.9 / 1.1)) / 2
    r2 = (16 + math.sqrt(256 - 16 * 0.9 * 16)) / 2
    r3 = (-1.6 + math.sqrt(1.6**2 + 4 * 0.4 * 0.9 * 16)) / 2
    assert (r1, r2, r3) == pytest.approx((5.7056, 10.5298, 1.7298), abs=1e-4)
    assert float(gaussian_radius(torch.tensor(4.0), torch.tensor(4.0), 0.1)) == pytest.approx(
        min(r1, r2, r3)
    )
    # On 0.32 m cells (0.16 m pillars, stride 2): a car 3.9 x 1.6 m is 12.19 x 5 cells, its
    # third root (-3.44 + sqrt(3.44^2 + 4 * 0.4 * 0.9 * 60.9)) / 2 = 3.27, so radius 3; a
    # pedestrian 0.8 x 0.6 m gets 0.93, raised to the minimum radius 2.
    assert object_radius(3.9, 1.6, 0.32) == 3
    assert object_radius(0.8, 0.6, 0.32) == 2


def test_gaussian_peaks_at_one_and_falls_off_with_sigma_a_sixth_of_the_diameter():
    kernel = gaussian_kernel(2, torch.float64)
    assert kernel.shape == (5, 5) and kernel[2, 2] == 1
    sigma = 5 / 6
    assert float(kernel[2, 4]) == pytest.approx(math.exp(-4 / (2 * sigma**2)))
    assert torch.equal(kernel, kernel.t()) and torch.equal(kernel, kernel.flip(0))


def test_drawing_keeps_the_maximum_and_clips_at_the_borders():
    heatmap = torch.zeros(6, 8)
    draw_gaussian(heatmap, (0, 0), 2)  # clipped: only the lower right quarter lands
    assert heatmap[0, 0] == 1 and heatmap[0, 2] > 0 and heatmap[3, 0] == 0
    draw_gaussian(heatmap, (1, 0), 2)
    assert heatmap[0, 1] == 1 and heatmap[0, 0] == 1  # the maximum, not the sum
    before = heatmap.clone()
    draw_gaussian(heatmap, (20, 3), 2)  # a centre outside the map draws nothing
    assert torch.equal(heatmap, before)
    with pytest.raises(ValueError, match="radius"):
        gaussian_kernel(-1)
