"""Mesh files (OBJ, OFF, PLY, STL) through trimesh, as :class:`geo3d.structures.meshes.Mesh`."""

from __future__ import annotations

import io
import os
import re

import numpy as np
import torch

from geo3d.structures.meshes import Mesh, check_mesh

MESH_FORMATS = (".obj", ".off", ".ply", ".stl")
# Some ModelNet files merge the header's two lines ("OFF12036 8748 0"); trimesh rejects them.
_MERGED_OFF_HEADER = re.compile(rb"^OFF(\s*\d)")


def read_mesh(path: str | os.PathLike) -> Mesh:
    """Read a triangle mesh; polygons are triangulated, vertices are kept as stored.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for
    an unknown format, a file trimesh cannot parse, or an empty or invalid mesh.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such mesh file")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in MESH_FORMATS:
        raise ValueError(f"{path}: unknown mesh format (known: {', '.join(MESH_FORMATS)})")
    try:
        import trimesh
    except ImportError as error:
        raise ImportError(f"reading meshes needs trimesh: pip install trimesh ({error})") from None
    with open(path, "rb") as handle:
        data = handle.read()
    if suffix == ".off":
        data = _MERGED_OFF_HEADER.sub(rb"OFF\n\1", data, count=1)
    # Geometry only: materials and textures are not read (they would need an image library).
    options = {"skip_materials": True} if suffix == ".obj" else {}
    try:
        loaded = trimesh.load(
            io.BytesIO(data), file_type=suffix[1:], force="mesh", process=False, **options
        )
    except Exception as error:  # noqa: BLE001 (trimesh raises many types for bad files)
        raise ValueError(f"{path}: not a readable {suffix[1:].upper()} mesh ({error})") from None
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float32)
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    vertices_t = torch.from_numpy(vertices.reshape(-1, 3).copy())
    faces_t = torch.from_numpy(faces.reshape(-1, 3).copy())
    check_mesh(vertices_t, faces_t, name=path)
    return Mesh(vertices_t, faces_t)
