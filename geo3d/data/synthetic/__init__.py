"""Embedded synthetic data sets: made from a seed, cached, runnable on a fresh machine."""

from geo3d.data.synthetic.shapes import CLASSES as SHAPE_CLASSES
from geo3d.data.synthetic.shapes import SyntheticShapes, make_shape

__all__ = ["SHAPE_CLASSES", "SyntheticShapes", "make_shape"]
