"""Embedded synthetic data sets: made from a seed, cached, runnable on a fresh machine."""

from geo3d.data.synthetic.lidar import CLASSES as LIDAR_CLASSES
from geo3d.data.synthetic.lidar import Sensor, SyntheticLidar, make_sweep
from geo3d.data.synthetic.shapes import CLASSES as SHAPE_CLASSES
from geo3d.data.synthetic.shapes import SyntheticShapes, make_shape

__all__ = [
    "LIDAR_CLASSES",
    "SHAPE_CLASSES",
    "Sensor",
    "SyntheticLidar",
    "SyntheticShapes",
    "make_shape",
    "make_sweep",
]
