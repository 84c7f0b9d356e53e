"""The ``mesh`` suite of geo3d benchmark: MeshCNN preparation and pooling on the bunny."""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

from geo3d.benchmarks.bench_timing import median_ms
from geo3d.paths import SOURCE_ROOT, shared_data_dir

SHARED_DATA = shared_data_dir()
BUNNY = os.path.join(SHARED_DATA, "meshes", "stanford-bunny.obj")


def _bunny_sizes(quick: bool):
    """The Stanford bunny decimated (Open3D's quadric decimation) to several face counts,
    and in full: ``[(vertices, faces)]`` from 500 to 69,451 faces (750 to 104,288 edges)."""
    import open3d as o3d

    if not os.path.isfile(BUNNY):
        raise FileNotFoundError(f"{BUNNY}: the mesh benchmark needs the shared bunny")
    full = o3d.io.read_triangle_mesh(BUNNY)
    targets = (500, 2000) if quick else (500, 2000, 8000, 32000, None)
    meshes = []
    for target in targets:
        mesh = full if target is None else full.simplify_quadric_decimation(target)
        meshes.append((np.asarray(mesh.vertices, np.float32), np.asarray(mesh.triangles, np.int64)))
    return meshes


_MEMORY_CHILD = r"""
import sys, warnings, numpy as np, torch
warnings.simplefilter("ignore")
from geo3d.pooling import mesh_pool
from geo3d.structures import MeshBatch, mesh_edges, repair_mesh
data = np.load(sys.argv[1])
v, f, _ = repair_mesh(torch.from_numpy(data["v"]), torch.from_numpy(data["f"]))
view = mesh_edges(f, v.shape[0])
mesh = MeshBatch.from_views([view], [v])
x = torch.randn(mesh.num_edges, int(sys.argv[2]))
def status_kb(key):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(key + ":"))
mesh_pool(x, mesh, mesh.num_edges // 2, warn=False)  # warm up (allocator, op loading)
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak resident size (VmHWM) to the current one
before = status_kb("VmRSS")
mesh_pool(x, mesh, mesh.num_edges // 2, warn=False)
print(status_kb("VmHWM") - before)
"""


def _peak_pool_memory_mb(vertices, faces, channels: int) -> float | None:
    """Peak resident memory added by one pooling, measured in a fresh process (the C++
    planner's memory is invisible to torch's allocator statistics)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mesh.npz")
        np.savez(path, v=vertices, f=faces)
        result = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, path, str(channels)],
            capture_output=True,
            text=True,
            cwd=SOURCE_ROOT,
        )
    if result.returncode != 0:
        return None
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def bench_mesh(repeats: int, quick: bool, channels: int = 64):
    """MeshCNN on the bunny at several sizes: rows of (edges, preparation ms, planning ms,
    pooling ms (planning and the feature merge of ``channels`` channels), peak MB added by
    the pooling, and the GB the official dense E x E union matrix would take)."""
    import warnings

    from geo3d.pooling import mesh_pool
    from geo3d.structures import MeshBatch, edge_features, mesh_edges, repair_mesh

    rows = []
    for vertices_np, faces_np in _bunny_sizes(quick):
        vertices, faces = torch.from_numpy(vertices_np), torch.from_numpy(faces_np)

        def prepare():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v, f, _ = repair_mesh(vertices, faces)
            view = mesh_edges(f, v.shape[0])
            return v, view, edge_features(v, view)

        prep_ms = median_ms(prepare, repeats)
        v, view, _ = prepare()
        mesh = MeshBatch.from_views([view], [v])
        x = torch.randn(mesh.num_edges, channels, generator=torch.Generator().manual_seed(0))
        target = mesh.num_edges // 2
        priority = x.square().sum(1)
        plan_ms = median_ms(lambda: mesh.plan_collapse(priority, [target]), repeats)
        pool_ms = median_ms(lambda: mesh_pool(x, mesh, target, warn=False), repeats)
        memory = None if quick else _peak_pool_memory_mb(vertices_np, faces_np, channels)
        dense_gb = mesh.num_edges**2 * 4 / 1e9
        rows.append((mesh.num_edges, prep_ms, plan_ms, pool_ms, memory, dense_gb))
    return rows


VARIANT_MESHES = (
    "cow",
    "spot",
    "suzanne",
    "teapot",
    "fandisk",
    "alligator",
    "beetle",
    "stanford-bunny",
)


def _decimated_shared_mesh(name: str, faces: int):
    """A shared mesh read and repaired by geo3d, then simplified to about ``faces`` faces as
    MeshCNN's data sets were (:func:`geo3d.structures.simplify_mesh`): ``(vertices, view)``."""
    from geo3d.data.io.meshes import read_mesh
    from geo3d.structures import mesh_edges, repair_mesh, simplify_mesh

    mesh = read_mesh(os.path.join(SHARED_DATA, "meshes", name + ".obj"))
    vertices, tris, _ = repair_mesh(mesh.vertices.double(), mesh.faces)
    vertices, tris, _ = simplify_mesh(vertices, tris, faces, name=name)
    return vertices, mesh_edges(tris, vertices.shape[0])


def bench_mesh_variants(faces: int = 500):
    """The official and exact collapse rules on the shared meshes decimated to MeshCNN's
    sizes, pooled to half their edges with the same priorities (the five official edge
    features, standardised): rows of (mesh, edges, target, edges reached by each variant,
    the share of the official survivors that the exact rules do not keep)."""
    import warnings

    from geo3d.pooling import mesh_pool
    from geo3d.structures import MeshBatch, edge_features

    rows = []
    for name in VARIANT_MESHES:
        if not os.path.isfile(os.path.join(SHARED_DATA, "meshes", name + ".obj")):
            continue
        vertices, view = _decimated_shared_mesh(name, faces)
        x = edge_features(vertices, view, "official").float()
        x = (x - x.mean(0)) / x.std(0).clamp(min=1e-6)
        mesh = MeshBatch.from_views([view], [vertices])
        target = mesh.num_edges // 2
        kept = {}
        for variant in ("official", "exact"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, _, record = mesh_pool(x, mesh, target, variant=variant)
            kept[variant] = set(record.kept.tolist())
        differ = len(kept["official"] - kept["exact"]) / max(len(kept["official"]), 1)
        rows.append(
            (name, mesh.num_edges, target, len(kept["official"]), len(kept["exact"]), 100 * differ)
        )
    return rows
