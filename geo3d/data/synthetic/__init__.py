"""Embedded synthetic data sets: made from a seed, cached, runnable on a fresh machine."""

from geo3d.data.synthetic.lidar import CLASSES as LIDAR_CLASSES
from geo3d.data.synthetic.lidar import Sensor, SyntheticLidar, make_sweep
from geo3d.data.synthetic.meshes import CLASSES as MESH_CLASSES
from geo3d.data.synthetic.meshes import SyntheticMeshes, make_mesh
from geo3d.data.synthetic.shapes import CLASSES as SHAPE_CLASSES
from geo3d.data.synthetic.shapes import SyntheticShapes, make_shape

__all__ = [
    "LIDAR_CLASSES",
    "MESH_CLASSES",
    "SHAPE_CLASSES",
    "Sensor",
    "SyntheticLidar",
    "SyntheticMeshes",
    "SyntheticShapes",
    "make_mesh",
    "make_shape",
    "make_sweep",
]
