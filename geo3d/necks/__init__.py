"""Between encoder and head: the BEV scatter (pillars to a 2D canvas) and the BEV backbone
(SECOND with FPN-style upsampling)."""

from geo3d.necks.bev_backbone import BEVBackbone
from geo3d.necks.bev_scatter import BEVScatter, bev_indices

__all__ = ["BEVBackbone", "BEVScatter", "bev_indices"]
