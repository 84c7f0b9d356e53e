"""geo3d: 3D perception on point clouds and triangle meshes, in PyTorch."""

__version__ = "0.1.0"

from geo3d import ops  # noqa: E402

__all__ = ["ops", "__version__"]
