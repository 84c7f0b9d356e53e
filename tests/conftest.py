import os

import pytest
import torch

SHARED_DATA = os.environ.get(
    "GEO3D_SHARED_DATA",
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data"
    ),
)


@pytest.fixture
def shared_data():
    """Path of the real data samples (../shared/data, or $GEO3D_SHARED_DATA)."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"real data folder {SHARED_DATA} not found (set GEO3D_SHARED_DATA)")
    return SHARED_DATA


CUDA_SKIP_REASON = "no CUDA device here (torch.cuda.is_available() is False)"


def devices():
    """CPU and CUDA. CUDA cases carry the ``cuda`` marker and run by default wherever a GPU
    is present; elsewhere they are skipped with a reason (``pytest -m cuda`` selects them)."""
    cuda = pytest.param(
        "cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_SKIP_REASON),
        ],
    )
    return ["cpu", cuda]


def load_shared_mesh(name: str):
    """``(vertices, faces)`` of a shared test mesh (``meshes/<name>.obj``, or
    ``modelnet:<stem>`` for a ModelNet ``.off``), repaired for MeshCNN; skips if absent."""
    import glob
    import warnings

    from geo3d.data.io.meshes import read_mesh
    from geo3d.structures import repair_mesh

    if name.startswith("modelnet:"):
        found = glob.glob(os.path.join(SHARED_DATA, "modelnet", "*", "*", "*", name[9:] + ".off"))
        path = found[0] if found else name
    else:
        path = os.path.join(SHARED_DATA, "meshes", name + ".obj")
    if not os.path.isfile(path):
        pytest.skip(f"{path} is not here (set GEO3D_SHARED_DATA)")
    mesh = read_mesh(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vertices, faces, _ = repair_mesh(mesh.vertices, mesh.faces)
    return vertices, faces


def randomise_batch_norms(module: torch.nn.Module, seed: int = 0) -> None:
    """Random running statistics and affine parameters in every BatchNorm1d of a float64
    module, so that eval-mode golden tests see a wrong eps, order or layout in the values."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g, dtype=torch.float64) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=g, dtype=torch.float64) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g, dtype=torch.float64) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g, dtype=torch.float64) * 0.1)


def collapse_args(mesh, priority, targets) -> tuple:
    """The positional arguments of the ``edge_collapse`` op (and of
    :func:`geo3d.ops.plan_edge_collapse`) for a :class:`geo3d.structures.MeshBatch`."""
    topology = (mesh.edges, mesh.gemm, mesh.sides)
    offsets = (mesh.edge_ptr, mesh.vertex_ptr, torch.as_tensor(targets))
    return (*topology, priority, mesh.vertices, *offsets)
