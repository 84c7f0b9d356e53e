"""MeshCNN's augmentations: topology kept valid, amounts as the official defaults."""

import pytest
import torch

from geo3d.data.mesh_transforms import flip_edges, scale_vertices, slide_vertices
from geo3d.structures import mesh_edges
from tests.conftest import load_shared_mesh


def load(name):
    return load_shared_mesh(name)


@pytest.mark.parametrize("name", ["suzanne", "woody"])
def test_flips_keep_a_manifold_mesh_with_the_same_counts(name):
    vertices, faces = load(name)
    before = mesh_edges(faces, vertices.shape[0])
    flipped = flip_edges(vertices, faces, 0.2, torch.Generator().manual_seed(0))
    after = mesh_edges(flipped, vertices.shape[0])  # raises on a non-manifold result
    assert flipped.shape == faces.shape and after.edges.shape == before.edges.shape
    changed = set(map(tuple, before.edges.tolist())) ^ set(map(tuple, after.edges.tolist()))
    assert 0 < len(changed) // 2 <= int(0.2 * before.edges.shape[0])

    # No degenerate face (the official check_area) and the input is not modified.
    a, b, c = (vertices[flipped[:, i]].double() for i in range(3))
    assert bool((torch.linalg.cross(b - a, c - b).norm(dim=1) > 0).all())
    assert torch.equal(faces, load(name)[1])  # the input is not modified


def test_slides_move_at_most_a_fifth_of_the_vertices_along_their_edges():
    vertices, faces = load("suzanne")
    view = mesh_edges(faces, vertices.shape[0])
    slid = slide_vertices(vertices, view, 0.2, torch.Generator().manual_seed(1))
    moved = (slid != vertices).any(dim=1).nonzero().squeeze(1)
    assert 0 < moved.shape[0] <= int(0.2 * vertices.shape[0])
    ends = view.edges
    for v in moved.tolist():
        # the new position lies 20 % to 50 % of the way along one of the vertex's edges
        neighbours = torch.cat([ends[ends[:, 0] == v, 1], ends[ends[:, 1] == v, 0]])
        ok = False
        for n in neighbours.tolist():
            # towards the neighbour where it stood then: before or after its own slide
            for there in (vertices[n], slid[n]):
                d = there.double() - vertices[v].double()
                t = float((slid[v].double() - vertices[v].double()) @ d / (d @ d))
                on_line = torch.allclose(vertices[v].double() + t * d, slid[v].double(), atol=1e-4)
                ok |= on_line and 0.2 - 1e-5 <= t <= 0.5 + 1e-5
        assert ok, v
    boundary_vertices = torch.unique(view.edges[view.boundary])
    assert not bool(torch.isin(moved, boundary_vertices).any())


def test_augmentations_are_reproducible_from_the_generator():
    vertices, faces = load("suzanne")
    a = scale_vertices(vertices, torch.Generator().manual_seed(5))
    b = scale_vertices(vertices, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, vertices)
    f1 = flip_edges(vertices, faces, 0.2, torch.Generator().manual_seed(2))
    f2 = flip_edges(vertices, faces, 0.2, torch.Generator().manual_seed(2))
    assert torch.equal(f1, f2)
