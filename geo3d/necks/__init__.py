"""Between encoder and head: the BEV scatter (voxels to a 2D canvas); 2D BEV backbones and
FPN-style fusion arrive with the detectors."""

from geo3d.necks.bev_scatter import BEVScatter, bev_indices

__all__ = ["BEVScatter", "bev_indices"]
