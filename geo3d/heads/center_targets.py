"""CenterPoint's heatmap targets (Yin et al., CVPR 2021), as OpenPCDet's
``centernet_utils`` computes them: a gaussian per object on its class's heatmap, with the
radius of CenterNet's ``gaussian_radius`` and a minimum radius (2 in OpenPCDet's configs).

``gaussian_radius`` keeps CenterNet's formula exactly, quirk included: each of its three
quadratic roots is ``(b + sqrt(b^2 - 4ac)) / 2`` where the quadratic formula divides by
``2a`` (a = 1, 4 and 4 * min_overlap); every CenterNet-style detector trains with these
radii, so their weights expect them.
"""

from __future__ import annotations

import math

import torch


def gaussian_radius(height: torch.Tensor, width: torch.Tensor, min_overlap: float = 0.5):
    """CenterNet's radius for boxes ``height x width`` (in heatmap cells), elementwise."""
    height, width = (
        torch.as_tensor(height, dtype=torch.float64),
        torch.as_tensor(width, dtype=torch.float64),
    )
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + torch.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return torch.minimum(torch.minimum(r1, r2), r3)


def gaussian_kernel(radius: int, dtype=torch.float32) -> torch.Tensor:
    """``(2r + 1, 2r + 1)`` gaussian with sigma ``(2r + 1) / 6``, peak 1, values below
    ``eps * max`` set to 0 (CenterNet's ``gaussian2D``)."""
    if radius < 0:
        raise ValueError(f"'radius' must be >= 0 (got {radius})")
    diameter = 2 * radius + 1
    sigma = diameter / 6
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma * sigma))
    kernel[kernel < torch.finfo(torch.float64).eps * kernel.max()] = 0
    return kernel.to(dtype)


def draw_gaussian(heatmap: torch.Tensor, centre: tuple[int, int], radius: int) -> torch.Tensor:
    """Draw the gaussian of ``radius`` at integer ``centre (x, y)`` on ``heatmap (H, W)`` in
    place, keeping the maximum where gaussians overlap, clipped at the borders."""
    if heatmap.dim() != 2:
        raise ValueError(f"Expected a (H, W) 'heatmap' (got {tuple(heatmap.shape)})")
    x, y = int(centre[0]), int(centre[1])
    height, width = heatmap.shape
    if not (0 <= x < width and 0 <= y < height):
        return heatmap  # OpenPCDet assigns only centres inside the map
    kernel = gaussian_kernel(radius, heatmap.dtype).to(heatmap.device)
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    window = heatmap[y - top : y + bottom, x - left : x + right]
    patch = kernel[radius - top : radius + bottom, radius - left : radius + right]
    torch.maximum(window, patch, out=window)
    return heatmap


def object_radius(
    dx: float, dy: float, cell: float, min_overlap: float = 0.1, min_radius: int = 2
) -> int:
    """The integer radius of an object ``dx x dy`` metres on a heatmap of ``cell``-metre cells
    (OpenPCDet's ``assign_target_of_single_head``: GAUSSIAN_OVERLAP 0.1, MIN_RADIUS 2)."""
    radius = gaussian_radius(torch.tensor(dx / cell), torch.tensor(dy / cell), min_overlap)
    return max(int(math.floor(float(radius))), min_radius)
