import os

import pytest
import torch

from geo3d.data.io import read_mesh
from geo3d.structures import mesh_edges


def gemm_loop_reference(faces):
    """MeshCNN's build_gemm as a plain loop over faces (mesh_prepare.py), for comparison."""
    key_of, edges, gemm, sides, count = {}, [], [], [], []
    for face in faces:
        face_edges = [tuple(sorted((face[i], face[(i + 1) % 3]))) for i in range(3)]
        for edge in face_edges:
            if edge not in key_of:
                key_of[edge] = len(edges)
                edges.append(list(edge))
                gemm.append([-1] * 4)
                sides.append([-1] * 4)
                count.append(0)
        for i, edge in enumerate(face_edges):
            k = key_of[edge]
            gemm[k][count[k]] = key_of[face_edges[(i + 1) % 3]]
            gemm[k][count[k] + 1] = key_of[face_edges[(i + 2) % 3]]
            count[k] += 2
        for i, edge in enumerate(face_edges):
            k = key_of[edge]
            sides[k][count[k] - 2] = count[key_of[face_edges[(i + 1) % 3]]] - 1
            sides[k][count[k] - 1] = count[key_of[face_edges[(i + 2) % 3]]] - 2
    return torch.tensor(edges), torch.tensor(gemm), torch.tensor(sides)


def test_tetrahedron_hand_checked():
    faces = torch.tensor([[0, 1, 2], [0, 3, 1], [1, 3, 2], [2, 3, 0]])
    view = mesh_edges(faces)
    assert view.edges.tolist() == [[0, 1], [1, 2], [0, 2], [0, 3], [1, 3], [2, 3]]
    # Edge (0, 1): face 0 gives (1,2), (0,2); face 1 ((0,3), (1,3), (0,1)) gives (0,3), (1,3).
    assert view.gemm[0].tolist() == [1, 2, 3, 4]
    assert not view.boundary.any() and view.edge_faces[0].tolist() == [0, 1]


@pytest.mark.parametrize("name", ["cow", "fandisk", "teapot", "woody", "spot"])
def test_matches_the_loop_on_real_meshes(shared_data, name):
    faces = read_mesh(os.path.join(shared_data, "meshes", f"{name}.obj")).faces
    view = mesh_edges(faces)
    edges, gemm, sides = gemm_loop_reference(faces.tolist())
    assert (
        torch.equal(view.edges, edges)
        and torch.equal(view.gemm, gemm)
        and torch.equal(view.sides, sides)
    )
    # Every neighbour lists the edge back, in the slot that sides names.
    e, k = (view.gemm >= 0).nonzero(as_tuple=True)
    assert torch.equal(view.gemm[view.gemm[e, k], view.sides[e, k]], e)
    assert torch.equal(view.boundary, view.gemm[:, 2] < 0)


def test_rejections_name_the_problem(shared_data):
    suzanne = read_mesh(os.path.join(shared_data, "meshes", "suzanne.obj")).faces
    with pytest.raises(ValueError, match=r"edge \(\d+, \d+\) is non-manifold"):
        mesh_edges(suzanne)
    with pytest.raises(ValueError, match="face 1 .* degenerate"):
        mesh_edges(torch.tensor([[0, 1, 2], [2, 2, 3]]))
    with pytest.raises(ValueError, match="int64"):
        mesh_edges(torch.tensor([[0, 1, 2]], dtype=torch.int32))


def test_simplify_mesh_reaches_meshcnn_sizes_and_stays_manifold(shared_data):
    pytest.importorskip("open3d")
    from geo3d.structures import simplify_mesh
    from tests.conftest import load_shared_mesh

    vertices, faces = load_shared_mesh("cow")
    small_vertices, small_faces, _ = simplify_mesh(vertices, faces, 500)
    assert 450 <= small_faces.shape[0] <= 500 and small_vertices.dtype == vertices.dtype
    view = mesh_edges(small_faces, small_vertices.shape[0])  # raises if not manifold
    assert abs(view.edges.shape[0] - 750) <= 75
    with pytest.raises(ValueError, match="num_faces"):
        simplify_mesh(vertices, faces, 0)
