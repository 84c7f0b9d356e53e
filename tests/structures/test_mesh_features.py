"""MeshCNN's five edge features on a hand-made mesh (a regular tetrahedron and a triangular
prism side by side), derived by hand, for the exact and the official (+0.1) variants."""

import math

import pytest
import torch

from geo3d.structures import edge_areas, edge_features, mesh_edges, repair_mesh

H = 2.0  # the prism's height; its cap is an equilateral triangle of side 1
EPS = 0.1  # the official code's fixed_division epsilon


def two_solids():
    s3 = math.sqrt(3)
    tetra = [
        (0.0, 0.0, 0.0),
        (1.0, 0.0, 0.0),
        (0.5, s3 / 2, 0.0),
        (0.5, s3 / 6, math.sqrt(2 / 3)),
    ]
    prism = [(x + 3.0, y, z) for z in (0.0, H) for (x, y) in ((0, 0), (1, 0), (0.5, s3 / 2))]
    vertices = torch.tensor(tetra + prism, dtype=torch.float64)
    tetra_faces = [(0, 2, 1), (0, 1, 3), (1, 2, 3), (2, 0, 3)]
    b, t = (4, 5, 6), (7, 8, 9)
    prism_faces = [(b[0], b[2], b[1]), (t[0], t[1], t[2])]
    for i in range(3):  # each side rectangle split by the diagonal bottom[i] -> top[i + 1]
        j = (i + 1) % 3
        prism_faces += [(b[i], b[j], t[j]), (b[i], t[j], t[i])]
    return vertices, torch.tensor(tetra_faces + prism_faces)


def classify(edges, vertices):
    """Each edge's kind, from its endpoints: tetra, vertical, diagonal or rim."""
    kinds = []
    for a, b in edges.tolist():
        if a < 4:
            kinds.append("tetra")
        elif vertices[a, 2] != vertices[b, 2]:
            xy_same = torch.allclose(vertices[a, :2], vertices[b, :2])
            kinds.append("vertical" if xy_same else "diagonal")
        else:
            kinds.append("rim")
    return kinds


def official_angle(cos_true, len_u, len_v):
    return math.acos(cos_true * len_u * len_v / ((len_u + EPS) * (len_v + EPS)))


def official_dihedral(interior, area_a, area_b):
    """pi - arccos(n_a . n_b), with |n| = 2 * area and the +0.1 on each norm."""
    na, nb = 2 * area_a, 2 * area_b
    return math.pi - math.acos(math.cos(math.pi - interior) * na * nb / ((na + EPS) * (nb + EPS)))


def test_features_of_a_tetrahedron_and_a_prism_by_hand():
    vertices, faces = two_solids()
    view = mesh_edges(faces)
    assert view.edges.shape[0] == 6 + 12
    exact = edge_features(vertices, view, "exact").double()
    official = edge_features(vertices, view, "official").double()
    kinds = classify(view.edges, vertices)
    s3, diag = math.sqrt(3), math.sqrt(1 + H * H)
    expected_exact = {
        # dihedral (interior angle), two opposite angles, two height / base ratios
        "tetra": [math.acos(1 / 3), math.pi / 3, math.pi / 3, s3 / 2, s3 / 2],
        "vertical": [math.pi / 3, math.atan(H), math.atan(H), 1 / H, 1 / H],
        "diagonal": [math.pi, math.pi / 2, math.pi / 2, H / (1 + H * H), H / (1 + H * H)],
        "rim": [math.pi / 2, math.atan(1 / H), math.pi / 3, s3 / 2, H],
    }
    # The official variant, by hand: its angles divide by |u| + 0.1 and |v| + 0.1.
    tetra_ratio = math.sqrt((0.5 - 0.5 / (1 + EPS)) ** 2 + 0.75)  # foot at t = 1/2
    expected_official = {
        "tetra": [
            official_dihedral(math.acos(1 / 3), s3 / 4, s3 / 4),
            official_angle(0.5, 1, 1),
            official_angle(0.5, 1, 1),
        ],
        "vertical": [
            official_dihedral(math.pi / 3, H / 2, H / 2),
            official_angle(1 / diag, 1, diag),
            official_angle(1 / diag, 1, diag),
        ],
        "diagonal": [
            official_dihedral(math.pi, H / 2, H / 2),
            official_angle(0, 1, H),
            official_angle(0, 1, H),
        ],
        "rim": [
            official_dihedral(math.pi / 2, s3 / 4, H / 2),
            min(official_angle(H / diag, H, diag), official_angle(0.5, 1, 1)),
            max(official_angle(H / diag, H, diag), official_angle(0.5, 1, 1)),
        ],
    }
    for e, kind in enumerate(kinds):
        want = torch.tensor(expected_exact[kind], dtype=torch.float64)
        assert torch.allclose(exact[e], want, atol=1e-5), (kind, exact[e], want)
        want = torch.tensor(expected_official[kind], dtype=torch.float64)
        assert torch.allclose(official[e, :3], want, atol=1e-5), (kind, official[e, :3], want)
        if kind == "tetra":
            assert torch.allclose(
                official[e, 3:], torch.tensor([tetra_ratio] * 2).double(), atol=1e-5
            )
    assert sorted(set(kinds)) == ["diagonal", "rim", "tetra", "vertical"]


def test_exact_features_are_scale_invariant_and_official_ones_are_not():
    vertices, faces = two_solids()
    view = mesh_edges(faces)
    assert torch.allclose(
        edge_features(vertices, view, "exact"),
        edge_features(vertices * 7, view, "exact"),
        atol=1e-5,
    )
    assert not torch.allclose(
        edge_features(vertices, view, "official"),
        edge_features(vertices * 7, view, "official"),
        atol=1e-3,
    )


def test_boundary_edges_read_their_one_face_twice():
    vertices = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.5]], dtype=torch.float64)
    view = mesh_edges(torch.tensor([[0, 1, 2], [1, 3, 2]]))
    features = edge_features(vertices, view, "exact")
    boundary = view.boundary
    assert boundary.sum() == 4
    assert torch.all(features[boundary, 0] == 0)  # the official convention
    assert torch.allclose(features[boundary, 1], features[boundary, 2])
    assert torch.allclose(features[boundary, 3], features[boundary, 4])


def test_edge_areas_sum_to_one():
    vertices, faces = two_solids()
    view = mesh_edges(faces)
    areas = edge_areas(vertices, faces, view)
    assert areas.shape == (18,) and abs(float(areas.sum()) - 1) < 1e-6 and bool((areas > 0).all())


def test_bad_input_is_named():
    vertices, faces = two_solids()
    view = mesh_edges(faces)
    with pytest.raises(ValueError, match="variant"):
        edge_features(vertices, view, "approximate")
    bad = vertices.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        edge_features(bad, view)
    collapsed = vertices.clone()
    collapsed[1] = collapsed[0]
    with pytest.raises(ValueError, match="zero length"):
        edge_features(collapsed, view)


def test_repair_merges_drops_and_reports():
    vertices, faces = two_solids()
    # a duplicated vertex, a degenerate face, a repeated face and a third face on an edge
    vertices = torch.cat([vertices, vertices[:1], torch.tensor([[0.3, -2.0, 0.1]]).double()])
    extra = torch.tensor([[10, 1, 3], [0, 0, 1], [0, 3, 1], [0, 1, 11]])
    fixed_v, fixed_f, report = repair_mesh(vertices, torch.cat([faces, extra]))
    assert report.merged_vertices == 1 and report.degenerate_faces >= 1
    assert report.duplicate_faces == 2 and report.non_manifold_faces == 1  # [10,1,3] is [0,1,3]
    assert report.unreferenced_vertices == 1  # the lone vertex of the dropped third face
    assert fixed_f.shape == faces.shape and fixed_v.shape == (10, 3)
    mesh_edges(fixed_f)  # a valid edge view
    with pytest.raises(ValueError, match="duplicates"):
        repair_mesh(vertices, torch.cat([faces, extra]), repair=False)
    with pytest.raises(ValueError, match="non-manifold"):
        repair_mesh(vertices[:10], torch.cat([faces, torch.tensor([[0, 1, 8]])]), repair=False)
