"""geo3d: 3D perception on point clouds and triangle meshes, in PyTorch."""

from geo3d import ops  # noqa: E402
from geo3d._version import __version__

__all__ = ["ops", "__version__"]
