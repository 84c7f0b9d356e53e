"""Point-NN's local geometry aggregation in one pass (Zhang et al., CVPR 2023, section 3;
the official ``models/point_nn.py``: ``LGA`` then ``Pooling``), without the ``(B, G, K,
C)`` neighbour tensors the plain formulation makes and walks several times.

:func:`point_nn_aggregate` is a whole Point-NN stage after grouping, given the indices of
:func:`geo3d.nn.plan_groups`: centred neighbour features and relative coordinates divided
by their std (+ 1e-5), the centre's feature concatenated (C -> 2C), PosE of the relative
coordinates, ``(feature + PosE) * PosE``, then max + mean over the K neighbours. The stds
come from :func:`group_moments` (float64 sums), one over the batch as the official code or
one per cloud. The native kernels (``ops/local_aggregation/``) read each neighbour once;
the references below are the plain formulation, which the tests compare against.
"""

from __future__ import annotations

import torch

from geo3d.ops._library import op, register_reference

EPS = 1e-5  # added to the std before dividing (the official LGA)


def _gathered(xyz, feats, centres, neighbours):
    batch = torch.arange(xyz.shape[0], device=xyz.device)
    centre_xyz = xyz[batch[:, None], centres]  # (B, G, 3)
    centre_feats = feats[batch[:, None], centres]  # (B, G, C)
    relative = xyz[batch[:, None, None], neighbours] - centre_xyz[:, :, None]  # (B, G, K, 3)
    centred = feats[batch[:, None, None], neighbours] - centre_feats[:, :, None]  # (B, G, K, C)
    return centre_feats, relative, centred


@register_reference("group_moments")
def group_moments_reference(xyz, feats, centres, neighbours) -> torch.Tensor:
    """See :func:`group_moments`, on the materialised neighbour tensors."""
    _, relative, centred = _gathered(xyz, feats, centres, neighbours)
    centred, relative = centred.double().flatten(1), relative.double().flatten(1)
    return torch.stack(
        [centred.sum(1), centred.square().sum(1), relative.sum(1), relative.square().sum(1)], 1
    )


@torch.library.register_fake("geo3d::group_moments")
def _group_moments_fake(xyz, feats, centres, neighbours):
    return xyz.new_empty((xyz.shape[0], 4), dtype=torch.float64)


@register_reference("point_nn_aggregate")
def point_nn_aggregate_reference(
    xyz, feats, centres, neighbours, feat_scale, xyz_scale, denominators, beta
) -> torch.Tensor:
    """See :func:`point_nn_aggregate`: Point-NN's plain formulation with ``(B, G, K, C)``
    tensors (its encoder's ``fused=False`` path computes the same)."""
    centre_feats, relative, centred = _gathered(xyz, feats, centres, neighbours)
    centred = centred / feat_scale[:, None, None, None]
    scaled = beta * (relative / xyz_scale[:, None, None, None]).unsqueeze(-1) / denominators
    encoding = torch.stack([torch.sin(scaled), torch.cos(scaled)], -1).flatten(-3)  # (B,G,K,2C)
    expanded = torch.cat([centred, centre_feats[:, :, None].expand_as(centred)], dim=-1)
    weighted = (expanded + encoding) * encoding
    return weighted.amax(dim=2) + weighted.mean(dim=2)


@torch.library.register_fake("geo3d::point_nn_aggregate")
def _point_nn_aggregate_fake(
    xyz, feats, centres, neighbours, feat_scale, xyz_scale, denominators, beta
):
    return feats.new_empty((xyz.shape[0], centres.shape[1], 2 * feats.shape[2]))


def _check(xyz, feats, centres, neighbours):
    if xyz.dim() != 3 or xyz.shape[-1] != 3:
        raise ValueError(f"Expected 'xyz' of shape (B, N, 3) (got {tuple(xyz.shape)})")
    if feats.dim() != 3 or feats.shape[:2] != xyz.shape[:2]:
        raise ValueError(
            f"Expected 'feats' of shape ({xyz.shape[0]}, {xyz.shape[1]}, C) "
            f"(got {tuple(feats.shape)})"
        )
    if centres.dim() != 2 or neighbours.dim() != 3 or neighbours.shape[:2] != centres.shape:
        raise ValueError(
            f"Expected 'centres' (B, G) and 'neighbours' (B, G, K) (got "
            f"{tuple(centres.shape)} and {tuple(neighbours.shape)})"
        )
    for name, index in (("centres", centres), ("neighbours", neighbours)):
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= xyz.shape[1]):
            raise ValueError(f"'{name}' has indices outside [0, {xyz.shape[1]})")


def group_stds(
    xyz, feats, centres, neighbours, per_cloud: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unbiased stds ``(feats (B,), xyz (B,))`` of the centred neighbour features and the
    relative coordinates of every group (:func:`group_moments`): one value over the whole
    batch repeated per cloud (the official Point-NN), or one per cloud."""
    _check(xyz, feats, centres, neighbours)
    moments = op("group_moments")(
        xyz.contiguous(), feats.contiguous(), centres.contiguous(), neighbours.contiguous()
    )
    counts = torch.tensor(
        [neighbours[0].numel() * feats.shape[2], neighbours[0].numel() * 3],
        dtype=torch.float64,
        device=moments.device,
    )
    if not per_cloud:
        moments, counts = moments.sum(0, keepdim=True), counts * xyz.shape[0]
    sums, squares = moments[:, 0::2], moments[:, 1::2]  # (B or 1, 2): feats, xyz
    variance = (squares - sums.square() / counts) / (counts - 1).clamp(min=1)
    stds = variance.clamp(min=0).sqrt().to(xyz.dtype).expand(xyz.shape[0], 2)
    return stds[:, 0].contiguous(), stds[:, 1].contiguous()


def point_nn_aggregate(
    xyz: torch.Tensor,
    feats: torch.Tensor,
    centres: torch.Tensor,
    neighbours: torch.Tensor,
    alpha: float = 1000.0,
    beta: float = 100.0,
    per_cloud: bool = False,
) -> torch.Tensor:
    """One Point-NN stage after grouping: ``xyz (B, N, 3)``, ``feats (B, N, C)`` (2C a
    multiple of 6), ``centres (B, G)`` and ``neighbours (B, G, K)`` int64 -> ``(B, G, 2C)``,
    max + mean over the neighbours of ``(feature + PosE) * PosE`` (module docstring), before
    the stage's batch norm and GELU. ``per_cloud`` takes the stds per cloud instead of over
    the batch. No autograd (Point-NN has no parameters)."""
    std_feats, std_xyz = group_stds(xyz, feats, centres, neighbours, per_cloud)
    frequencies = 2 * feats.shape[2] // 6
    if 2 * feats.shape[2] % 6:
        raise ValueError(f"'feats' needs 2C a multiple of 6 (got C = {feats.shape[2]})")
    exponent = torch.arange(frequencies, device=xyz.device, dtype=xyz.dtype) / frequencies
    denominators = torch.pow(torch.as_tensor(alpha, dtype=xyz.dtype), exponent)
    return op("point_nn_aggregate")(
        xyz.contiguous(),
        feats.contiguous(),
        centres.contiguous(),
        neighbours.contiguous(),
        std_feats + EPS,
        std_xyz + EPS,
        denominators.contiguous(),
        float(beta),
    )
