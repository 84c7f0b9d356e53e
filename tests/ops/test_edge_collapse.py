"""MeshCNN's edge-collapse planning: the native kernel against the Python reference, the
surface it leaves on real meshes, a hand-pinned collapse, and bad input."""

import pytest
import torch

from geo3d.ops import edge_collapse_reference, plan_edge_collapse
from geo3d.ops._library import has_native_kernel, op
from geo3d.structures import MeshBatch, edge_features, faces_from_gemm, mesh_edges
from tests.conftest import collapse_args, load_shared_mesh

MESHES = ("cow", "spot", "suzanne", "woody", "beetle", "teapot", "alligator")
needs_native = pytest.mark.skipif(
    not has_native_kernel("edge_collapse", "cpu"), reason="geo3d._C not built"
)


def load(name):
    vertices, faces = load_shared_mesh(name)
    return vertices, faces, mesh_edges(faces, vertices.shape[0])


def batch_of(names):
    loaded = [load(n) for n in names]
    return MeshBatch.from_views([v for _, _, v in loaded], [v for v, _, _ in loaded]), loaded


plan_args = collapse_args


def reference_plan(mesh: MeshBatch, priority, targets, variant, stale_refs=None):
    """The Python reference's outputs for the same call as :func:`plan_edge_collapse`."""
    if stale_refs is None:
        stale_refs = torch.zeros(mesh.vertices.shape[0], dtype=torch.int64)
    return edge_collapse_reference(
        *plan_args(mesh, priority, targets), stale_refs, variant == "official"
    )


def assert_same_plan(native, reference):
    for name, a, b in zip(native.__dataclass_fields__, vars(native).values(), reference):
        assert torch.equal(a, b), name


def euler(vertices_alive, edges, gemm):
    """V - E + F, each face counted by its three edges' sides (a closed component pooled
    down to two triangles on the same three edges still counts two faces)."""
    faces = int((gemm[:, [0, 2]] >= 0).sum())
    assert faces % 3 == 0
    return int(vertices_alive) - edges.shape[0] + faces // 3


def check_surface(edges, gemm, sides):
    """Neighbours list each edge back, edges are unique, and the faces the view describes
    form a manifold mesh whose edges are exactly these edges."""
    num_edges = edges.shape[0]
    has = gemm >= 0
    e, s = has.nonzero(as_tuple=True)
    assert torch.equal(gemm[gemm[e, s], sides[e, s]], e), "a neighbour does not list the edge back"
    pairs = edges.sort(dim=1).values
    assert torch.unique(pairs, dim=0).shape[0] == num_edges, "two edges join the same vertices"
    faces = faces_from_gemm(edges, gemm)
    rebuilt = mesh_edges(faces)  # raises on non-manifold edges and degenerate faces
    assert torch.equal(torch.unique(rebuilt.edges, dim=0), torch.unique(pairs, dim=0)), (
        "the faces' edges differ from the edge list"
    )


@needs_native
@pytest.mark.parametrize("variant", ["official", "exact"])
@pytest.mark.parametrize("priority_kind", ["features", "random"])
def test_native_equals_reference_on_a_batch_of_real_meshes(priority_kind, variant):
    mesh, loaded = batch_of(["suzanne", "woody", "beetle", "modelnet:monitor_0001"])
    if priority_kind == "features":
        priority = torch.cat([(edge_features(v, view) ** 2).sum(1) for v, _, view in loaded])
    else:
        priority = torch.rand(mesh.num_edges, generator=torch.Generator().manual_seed(3))
    targets = [int(c) // 2 for c in mesh.edge_counts()]
    native = plan_edge_collapse(*plan_args(mesh, priority, targets), variant=variant)
    assert_same_plan(native, reference_plan(mesh, priority, targets, variant))
    if variant == "exact":
        return
    # A second pooling with the carried stale entries: both planners read them alike.
    pooled = MeshBatch(
        native.edges,
        native.gemm,
        native.sides,
        native.vertices,
        torch.cat([torch.zeros(1, dtype=torch.int64), native.counts.cumsum(0)]),
        mesh.vertex_ptr,
    )
    assert bool(native.stale_refs.any())
    priority = torch.rand(pooled.num_edges, generator=torch.Generator().manual_seed(4))
    targets = [int(c) * 2 // 3 for c in pooled.edge_counts()]
    again = plan_edge_collapse(*plan_args(pooled, priority, targets), stale_refs=native.stale_refs)
    assert_same_plan(again, reference_plan(pooled, priority, targets, variant, native.stale_refs))


@needs_native
@pytest.mark.parametrize("variant", ["official", "exact"])
@pytest.mark.parametrize("seed", range(4))
def test_native_equals_reference_on_random_priorities_and_targets(seed, variant):
    generator = torch.Generator().manual_seed(seed)
    mesh, _ = batch_of(["cow", "spot"])
    priority = torch.randn(mesh.num_edges, generator=generator, dtype=torch.float64)
    priority[::7] = 0.5  # ties: broken by edge id
    targets = torch.randint(0, 4000, (2,), generator=generator)
    native = plan_edge_collapse(*plan_args(mesh, priority, targets), variant=variant)
    assert_same_plan(native, reference_plan(mesh, priority, targets, variant))


@pytest.mark.parametrize("variant", ["official", "exact"])
@pytest.mark.parametrize("name", MESHES + ("modelnet:desk_0201", "modelnet:table_0393"))
def test_pooling_real_meshes_keeps_a_valid_surface(name, variant):
    vertices, faces, view = load(name)
    mesh = MeshBatch.from_views([view], [vertices])
    closed = not bool(view.boundary.any())
    characteristic = euler(vertices.shape[0], view.edges, view.gemm)
    generator = torch.Generator().manual_seed(0)
    alive = torch.ones(vertices.shape[0], dtype=torch.bool)
    stale = None
    for _ in range(3):  # three poolings, each to half the edges
        count = mesh.num_edges
        target = (count // 2) // 3 * 3 + count % 3  # E - target divisible by 3
        plan = plan_edge_collapse(
            *plan_args(mesh, torch.rand(count, generator=generator), [target]),
            variant=variant,
            stale_refs=stale,
        )
        stale = plan.stale_refs if variant == "official" else None
        reached = int(plan.counts[0])
        assert reached == target or (not closed and reached > target)
        if closed:
            assert reached == target, f"{name}: a closed mesh must reach its target"
        check_surface(plan.edges, plan.gemm, plan.sides)
        alive &= plan.vertex_alive  # the vertex array keeps its size over the levels
        used = torch.unique(plan.edges)
        assert bool(alive[used].all()), "an edge uses a removed vertex"
        assert int(alive.sum()) == used.shape[0], "a live vertex on no edge"
        if closed:
            assert euler(int(alive.sum()), plan.edges, plan.gemm) == characteristic
        # Groups: every input edge is in some group, every output edge's group holds itself.
        assert torch.equal(torch.unique(plan.members[:, 0]), torch.arange(count))
        own = plan.members[:, 0] == plan.kept[plan.members[:, 1]]
        assert torch.equal(torch.unique(plan.members[own, 1]), torch.arange(reached))
        mesh = MeshBatch(
            plan.edges,
            plan.gemm,
            plan.sides,
            plan.vertices,
            torch.tensor([0, reached]),
            mesh.vertex_ptr,
        )


def octahedron():
    vertices = torch.tensor(
        [[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=torch.float64
    )
    faces = []
    for up in (4, 5):
        for i in range(4):
            a, b = i, (i + 1) % 4
            faces.append((a, b, up) if up == 4 else (b, a, up))
    return vertices, torch.tensor(faces)


def test_one_collapse_on_an_octahedron_by_hand():
    vertices, faces = octahedron()
    view = mesh_edges(faces)
    mesh = MeshBatch.from_views([view], [vertices])
    e = int(((view.edges == torch.tensor([0, 1])).all(dim=1)).nonzero())  # the edge +x, +y
    priority = torch.ones(12)
    priority[e] = 0  # collapsed first; every vertex has valence 4: no triplet
    plan = plan_edge_collapse(*plan_args(mesh, priority, [9]))
    assert int(plan.counts[0]) == 9
    removed = {e, int(view.gemm[e, 1]), int(view.gemm[e, 3])}
    assert set(plan.kept.tolist()) == set(range(12)) - removed
    # +y merged into +x at the midpoint
    assert plan.vertex_alive.tolist() == [True, False, True, True, True, True]
    assert torch.allclose(plan.vertices[0], torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))
    expected_faces = {(0, 3, 4), (0, 3, 5), (0, 2, 4), (0, 2, 5), (2, 3, 4), (2, 3, 5)}
    got = {tuple(sorted(f)) for f in faces_from_gemm(plan.edges, plan.gemm).tolist()}
    assert got == expected_faces
    # The side survivors absorb the removed side edge and the collapsed edge.
    groups = {}
    for member, out in plan.members.tolist():
        groups.setdefault(plan.kept[out].item(), set()).add(member)
    for slot in (0, 2):
        survivor, absorbed = int(view.gemm[e, slot]), int(view.gemm[e, slot + 1])
        assert groups[survivor] == {survivor, absorbed, e}
    assert all(len(g) == 1 for k, g in groups.items() if k not in view.gemm[e, [0, 2]].tolist())


def test_a_valence_three_vertex_is_cleaned_as_a_triplet():
    """A tetrahedron: every vertex has valence 3, so a collapse first removes a triplet."""
    vertices = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float64)
    faces = torch.tensor([[0, 2, 1], [0, 1, 3], [1, 2, 3], [2, 0, 3]])
    view = mesh_edges(faces)
    mesh = MeshBatch.from_views([view], [vertices])
    priority = torch.arange(6, dtype=torch.float32)
    plan = plan_edge_collapse(*plan_args(mesh, priority, [0]), variant="exact")
    assert_same_plan(plan, reference_plan(mesh, priority, [0], "exact"))
    assert int(plan.counts[0]) == 3  # the triplet went; nothing valid is left
    assert int(plan.vertex_alive.sum()) == 3


def test_running_dry_stops_and_reports_instead_of_crashing():
    vertices, faces, view = load("woody")  # boundaries everywhere block collapses
    mesh = MeshBatch.from_views([view], [vertices])
    plan = plan_edge_collapse(*plan_args(mesh, torch.rand(mesh.num_edges), [0]))
    assert 0 < int(plan.counts[0]) < mesh.num_edges
    check_surface(plan.edges, plan.gemm, plan.sides)


def test_targets_at_or_above_the_edge_count_change_nothing():
    vertices, faces = octahedron()
    view = mesh_edges(faces)
    mesh = MeshBatch.from_views([view], [vertices])
    plan = plan_edge_collapse(*plan_args(mesh, torch.rand(12), [12]))
    assert torch.equal(plan.kept, torch.arange(12)) and torch.equal(plan.gemm, view.gemm)
    assert torch.equal(plan.members, torch.arange(12)[:, None].expand(-1, 2))


def test_bad_input_is_rejected_by_the_wrapper_and_the_kernel():
    vertices, faces = octahedron()
    view = mesh_edges(faces)
    mesh = MeshBatch.from_views([view], [vertices])
    good = plan_args(mesh, torch.rand(12), [6])
    with pytest.raises(ValueError, match="finite"):
        plan_edge_collapse(*good[:3], torch.full((12,), float("nan")), *good[4:])
    with pytest.raises(ValueError, match="gemm"):
        plan_edge_collapse(good[0], good[1].int(), *good[2:])
    with pytest.raises(ValueError, match="non-negative"):
        plan_edge_collapse(*good[:7], torch.tensor([-1]))
    if not has_native_kernel("edge_collapse", "cpu"):
        return
    extra = (torch.zeros(6, dtype=torch.int64), True)  # no stale entries, official rules
    broken = good[1].clone()
    broken[0, 0] = 5 if int(broken[0, 0]) != 5 else 6  # a neighbour that does not list it back
    with pytest.raises(RuntimeError, match="disagree|outside"):
        op("edge_collapse")(good[0], broken, *good[2:], *extra)
    far = good[1].clone()
    far[3, 2] = 99
    with pytest.raises(RuntimeError, match="outside"):
        op("edge_collapse")(good[0], far, *good[2:], *extra)
    with pytest.raises(RuntimeError, match="edge_ptr"):
        op("edge_collapse")(*good[:5], torch.tensor([0, 11]), *good[6:], *extra)
