"""Point-cloud files: KITTI ``.bin``, nuScenes ``.pcd.bin``, PCD, PLY, XYZ/TXT, NPY.

PCD (ascii, binary, binary_compressed) and PLY are read by Open3D; the raw binary and
text layouts Open3D does not know are read here. Every reader returns a dict of tensors
with ``"xyz" (N, 3)`` float32 and, where the file has them, ``"intensity" (N,)``,
``"ring" (N,)``, ``"colors" (N, 3)`` in [0, 1] and ``"normals" (N, 3)``.
"""

from __future__ import annotations

import os

import numpy as np
import torch

# suffix -> (float32 values per point, names of the columns after x, y, z)
RAW_LAYOUTS = {
    ".pcd.bin": (5, ("intensity", "ring")),  # nuScenes LIDAR_TOP
    ".bin": (4, ("intensity",)),  # KITTI velodyne
}
POINT_FORMATS = (".bin", ".pcd.bin", ".pcd", ".ply", ".xyz", ".txt", ".npy")


def _suffix(path: str) -> str:
    lower = path.lower()
    for suffix in sorted(POINT_FORMATS, key=len, reverse=True):
        if lower.endswith(suffix):
            return suffix
    raise ValueError(f"{path}: unknown point-cloud format (known: {', '.join(POINT_FORMATS)})")


def _read_raw(path: str, values_per_point: int, extra: tuple[str, ...]) -> dict[str, torch.Tensor]:
    data = np.fromfile(path, dtype=np.float32)
    if data.size % values_per_point:
        raise ValueError(
            f"{path}: {data.size * 4} bytes is not a whole number of points of "
            f"{values_per_point} float32 values (corrupt or truncated file?)"
        )
    data = torch.from_numpy(data.reshape(-1, values_per_point).copy())
    cloud = {"xyz": data[:, :3].contiguous()}
    for column, name in enumerate(extra, start=3):
        cloud[name] = data[:, column].contiguous()
    return cloud


def _read_text(path: str) -> dict[str, torch.Tensor]:
    try:
        data = np.loadtxt(path, dtype=np.float32, ndmin=2, comments="#", delimiter=None)
    except ValueError as error:
        raise ValueError(f"{path}: not a text file of numbers per point ({error})") from None
    if data.size == 0:
        data = data.reshape(0, 3)
    if data.shape[1] < 3:
        raise ValueError(f"{path}: expected at least 3 columns (x y z), got {data.shape[1]}")
    data = torch.from_numpy(data)
    cloud = {"xyz": data[:, :3].contiguous()}
    if data.shape[1] == 4:
        cloud["intensity"] = data[:, 3].contiguous()
    elif data.shape[1] >= 6:
        cloud["normals"] = data[:, 3:6].contiguous()
    return cloud


def _read_open3d(path: str) -> dict[str, torch.Tensor]:
    from geo3d.optional import require

    o3d = require("open3d", f"reading {os.path.basename(path)}")
    cloud = o3d.io.read_point_cloud(path)
    xyz = np.asarray(cloud.points, dtype=np.float32)
    if xyz.shape[0] == 0 and os.path.getsize(path) > 0 and not _declares_no_points(path):
        raise ValueError(f"{path}: Open3D read no points (corrupt file or unsupported fields)")
    result = {"xyz": torch.from_numpy(xyz.reshape(-1, 3).copy())}
    if cloud.has_colors():
        result["colors"] = torch.from_numpy(np.asarray(cloud.colors, dtype=np.float32).copy())
    if cloud.has_normals():
        result["normals"] = torch.from_numpy(np.asarray(cloud.normals, dtype=np.float32).copy())
    return result


def _declares_no_points(path: str) -> bool:
    """Whether a PCD/PLY header says the file holds zero points (a legal, empty cloud)."""
    with open(path, "rb") as handle:
        header = handle.read(4096).decode("latin-1", errors="replace").lower()
    return "\npoints 0" in header or "element vertex 0\n" in header


def read_points(path: str | os.PathLike, drop_nonfinite: bool = False) -> dict[str, torch.Tensor]:
    """Read a point cloud; see the module docstring for the formats and the returned keys.

    Points with NaN or inf coordinates (organized PCD clouds mark missing returns so) are
    an error unless ``drop_nonfinite`` is set, which removes them from every field.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such point-cloud file")
    suffix = _suffix(path)
    if suffix in RAW_LAYOUTS:
        cloud = _read_raw(path, *RAW_LAYOUTS[suffix])
    elif suffix in (".xyz", ".txt"):
        cloud = _read_text(path)
    elif suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:  # truncated, corrupt, or pickled
            raise ValueError(f"{path}: not a readable .npy array ({error})") from None
        if array.ndim != 2 or array.shape[1] < 3:
            raise ValueError(f"{path}: expected an (N, 3+) array, got shape {array.shape}")
        array = torch.from_numpy(array.astype(np.float32))
        cloud = {"xyz": array[:, :3].contiguous()}
        if array.shape[1] == 4:
            cloud["intensity"] = array[:, 3].contiguous()
    else:
        cloud = _read_open3d(path)
    finite = torch.isfinite(cloud["xyz"]).all(dim=1)
    if not bool(finite.all()):
        if not drop_nonfinite:
            raise ValueError(
                f"{path}: {int((~finite).sum())} of {finite.shape[0]} points have NaN or inf "
                "coordinates (pass drop_nonfinite=True to drop them)"
            )
        cloud = {name: values[finite] for name, values in cloud.items()}
    return cloud
