"""Whole backbones."""

from geo3d.encoders.point_nn import PointNNEncoder

__all__ = ["PointNNEncoder"]
