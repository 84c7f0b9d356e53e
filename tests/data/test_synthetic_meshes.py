import torch

from geo3d.data.synthetic import MESH_CLASSES, SyntheticMeshes
from geo3d.structures import mesh_edges


def test_meshes_are_closed_manifold_and_in_the_edge_range():
    data = SyntheticMeshes("val", per_class=3, cache_dir=False, progress=False)
    assert len(data) == 3 * len(MESH_CLASSES)
    counts = []
    for item in data:
        view = mesh_edges(item["faces"])  # raises on non-manifold edges
        assert not view.boundary.any()  # watertight: every edge has two faces
        assert torch.equal(view.gemm, item["gemm"])
        counts.append(item["edges"].shape[0])
        # Euler characteristic of a closed surface: 2 (sphere-like) or 0 (torus)
        chi = item["vertices"].shape[0] - item["edges"].shape[0] + item["faces"].shape[0]
        assert chi == (0 if MESH_CLASSES[int(item["label"])] == "torus" else 2)
    assert 500 <= min(counts) and max(counts) <= 2500 and len(set(counts)) > 5


def test_edge_labels_follow_the_faces():
    item = SyntheticMeshes("val", per_class=1, cache_dir=False, progress=False)[2]
    view = mesh_edges(item["faces"])
    first, second = view.edge_faces[:, 0], view.edge_faces[:, 1]
    assert torch.equal(item["edge_labels"], item["face_labels"][first])
    assert torch.allclose(item["soft_labels"].sum(1), torch.ones(1))
    mixed = item["face_labels"][first] != item["face_labels"][second]
    assert mixed.any() and torch.allclose(
        item["soft_labels"][mixed].max(1).values, torch.full((1,), 0.5)
    )


def test_reproducible_and_cached(tmp_path):
    a = SyntheticMeshes("test", per_class=1, seed=2, cache_dir=tmp_path, progress=False)
    b = SyntheticMeshes("test", per_class=1, seed=2, cache_dir=tmp_path, progress=False)
    c = SyntheticMeshes("test", per_class=1, seed=2, cache_dir=False, progress=False)
    for x, y, z in zip(a, b, c):
        assert torch.equal(x["vertices"], y["vertices"]) and torch.equal(
            x["vertices"], z["vertices"]
        )
        assert torch.equal(x["faces"], z["faces"]) and torch.equal(
            x["soft_labels"], z["soft_labels"]
        )
