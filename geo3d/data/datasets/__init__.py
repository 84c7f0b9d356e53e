"""Data sets read from their standard on-disk layouts."""

from geo3d.data.datasets.modelnet import ModelNetMeshFolder

__all__ = ["ModelNetMeshFolder"]
