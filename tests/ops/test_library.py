"""The ops as dispatcher ops: opcheck, torch.compile, torch.export, and garbage in."""

import pytest
import torch

from geo3d import ops

G = torch.Generator().manual_seed(0)
XYZ = torch.rand(2, 64, 3, generator=G)
LENGTHS = torch.tensor([64, 40])
OPCHECK_CASES = {
    "farthest_point_sample": (XYZ, LENGTHS, 16, torch.tensor([0, 3])),
    "knn": (XYZ[:, :20].contiguous(), XYZ, torch.tensor([20, 11]), LENGTHS, 8),
    "farthest_point_sample_packed": (
        XYZ.reshape(-1, 3),
        torch.tensor([0, 64, 100, 128]),
        torch.tensor([0, 16, 16, 20]),
        20,
        torch.tensor([0, 0, 5]),
    ),
    "knn_packed": (
        XYZ.reshape(-1, 3)[:30],
        XYZ.reshape(-1, 3),
        torch.tensor([0, 20, 30]),
        torch.tensor([0, 64, 128]),
        8,
    ),
    "ball_query": (XYZ[:, :20].contiguous(), XYZ, torch.tensor([20, 11]), LENGTHS, 0.3, 6),
    "gather_points": (
        torch.randn(2, 64, 5, generator=G, dtype=torch.float64, requires_grad=True),
        torch.randint(-1, 64, (2, 30), generator=G),
    ),
    "gather_points_backward": (
        torch.randn(2, 30, 5, generator=G),
        torch.randint(-1, 64, (2, 30), generator=G),
        64,
    ),
    "voxelize": (
        torch.rand(300, 4, generator=G) * 4,
        [0.5, 0.5, 0.5],
        [0.0, 0.0, 0.0, 4.0, 4.0, 2.0],
        4,
        60,
    ),
    "dynamic_voxelize": (
        torch.rand(300, 4, generator=G) * 4,
        [0.5, 0.5, 0.5],
        [0.0, 0.0, 0.0, 4.0, 4.0, 2.0],
    ),
}
_SOFT_SRC = torch.randn(40, 3, generator=G, dtype=torch.float64)
_SOFT_INDEX = torch.randint(0, 7, (40,), generator=G)
_SOFT_OUT, _, _SOFT_LSE = torch.ops.geo3d.scatter(_SOFT_SRC, _SOFT_INDEX, 9, "soft")
OPCHECK_CASES["scatter_soft_backward"] = (
    torch.randn(9, 3, generator=G, dtype=torch.float64),
    _SOFT_SRC,
    _SOFT_INDEX,
    _SOFT_OUT,
    _SOFT_LSE,
)
for reduce in ops.REDUCTIONS:
    OPCHECK_CASES[f"scatter[{reduce}]"] = (
        torch.randn(40, 3, generator=G, dtype=torch.float64, requires_grad=True),
        torch.randint(0, 7, (40,), generator=G),
        9,
        reduce,
    )


def _icosahedron_plan_args():
    import trimesh

    from geo3d.structures import MeshBatch, mesh_edges
    from tests.conftest import collapse_args

    ico = trimesh.creation.icosahedron()
    vertices = torch.tensor(ico.vertices, dtype=torch.float32)
    view = mesh_edges(torch.tensor(ico.faces, dtype=torch.int64))
    mesh = MeshBatch.from_views([view, view], [vertices, vertices])
    priority = torch.rand(mesh.num_edges, generator=G)
    stale = torch.randint(0, 2, (mesh.vertices.shape[0],), generator=G)
    return (*collapse_args(mesh, priority, [18, 9]), stale, True)


OPCHECK_CASES["edge_collapse"] = _icosahedron_plan_args()
_BOXES = torch.rand(6, 7, generator=G, dtype=torch.float64) * 2 + 0.1
OPCHECK_CASES["box_iou"] = (_BOXES, _BOXES[:4].flip(0).contiguous(), True)
OPCHECK_CASES["nms_bev"] = (
    _BOXES,
    torch.rand(6, generator=G),
    torch.zeros(0, dtype=torch.long),
    0.3,
    -1,
    4,
)
OPCHECK_CASES["points_in_boxes"] = (torch.rand(30, 4, generator=G, dtype=torch.float64) * 3, _BOXES)
_VOXELS = torch.unique(torch.randint(0, 5, (40, 4), generator=G), dim=0).int()
_VOXELS[:, 0] //= 3
_VOXELS = torch.unique(_VOXELS, dim=0)
OPCHECK_CASES["sparse_conv_neighbors"] = (
    _VOXELS,
    _VOXELS,
    [5, 5, 5],
    [3, 3, 3],
    [1, 1, 1],
    [1, 1, 1],
    [1, 1, 1],
)
OPCHECK_CASES["sparse_conv_outputs"] = (
    _VOXELS,
    [5, 5, 5],
    [3, 3, 3],
    [2, 2, 2],
    [1, 1, 1],
    [1, 1, 1],
    [3, 3, 3],
)
OPCHECK_CASES["set_partition"] = (_VOXELS, [5, 5, 5], [1, 3, 3], [0, 1, 1], 4)
_POOL_X = torch.randn(2, 3, 7, 7, generator=G, dtype=torch.float64, requires_grad=True)
_KITTI = {
    "overlaps": torch.tensor([0.8, 0.1, 0.75, 0.0], dtype=torch.float64),
    "overlap_ptr": torch.tensor([0, 4]),
    "gt_ptr": torch.tensor([0, 2]),
    "dt_ptr": torch.tensor([0, 2]),
    "ignored_gt": torch.tensor([0, 1]),
    "ignored_dt": torch.tensor([0, 0]),
    "scores": torch.tensor([0.9, 0.4], dtype=torch.float64),
    "gt_alpha": torch.zeros(2, dtype=torch.float64),
    "dt_alpha": torch.ones(2, dtype=torch.float64),
    "dontcare": torch.zeros(0, dtype=torch.float64),
    "dontcare_ptr": torch.tensor([0, 0]),
}
OPCHECK_CASES["kitti_statistics"] = (
    *_KITTI.values(),
    torch.tensor([0.0, 0.5], dtype=torch.float64),
    0.7,
    True,
    True,
)
_GROUP = (
    torch.randn(2, 20, 3, generator=G),
    torch.randn(2, 20, 6, generator=G),
    torch.randint(0, 20, (2, 5), generator=G),
    torch.randint(0, 20, (2, 5, 4), generator=G),
)
OPCHECK_CASES["group_moments"] = _GROUP
OPCHECK_CASES["point_nn_aggregate"] = (
    *_GROUP,
    torch.tensor([1.5, 1.5]),
    torch.tensor([0.7, 0.7]),
    torch.tensor([1.0, 1000.0**0.5]),
    100.0,
)
OPCHECK_CASES["soft_pool"] = (_POOL_X, [3, 3], [2, 2], [1, 1])
_POOL_OUT, _POOL_LSE = torch.ops.geo3d.soft_pool(_POOL_X.detach(), [3, 3], [2, 2], [1, 1])
OPCHECK_CASES["soft_pool_backward"] = (
    torch.randn_like(_POOL_OUT),
    _POOL_X.detach(),
    _POOL_OUT,
    _POOL_LSE,
    [3, 3],
    [2, 2],
    [1, 1],
)


def test_every_op_has_an_opcheck_case():
    from geo3d.ops._library import SCHEMAS

    assert set(SCHEMAS) == {case.split("[")[0] for case in OPCHECK_CASES}


@pytest.mark.parametrize("case", sorted(OPCHECK_CASES))
def test_opcheck(case):
    name = case.split("[")[0]
    op = getattr(torch.ops.geo3d, name).default
    torch.library.opcheck(op, OPCHECK_CASES[case])


def sample_and_group(xyz, feats):
    centers = ops.farthest_point_sample(xyz, 16)
    center_xyz = ops.gather_points(xyz, centers)
    _, neighbors = ops.knn(center_xyz, xyz, 8)
    grouped = ops.gather_points(feats, neighbors)  # (B, 16, 8, C)
    return grouped.amax(dim=2)


def test_torch_compile_traces_through_the_ops():
    xyz = torch.rand(2, 128, 3)
    feats = torch.randn(2, 128, 6, requires_grad=True)
    compiled = torch.compile(sample_and_group, fullgraph=True, backend="aot_eager")
    out = compiled(xyz, feats)
    assert torch.equal(out, sample_and_group(xyz, feats))
    out.sum().backward()
    assert feats.grad is not None and feats.grad.abs().sum() > 0


class SampleGroup(torch.nn.Module):
    def forward(self, xyz, feats):
        return sample_and_group(xyz, feats)


def test_torch_export_sees_the_ops():
    xyz, feats = torch.rand(2, 128, 3), torch.randn(2, 128, 6)
    program = torch.export.export(SampleGroup(), (xyz, feats))
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert {"geo3d.farthest_point_sample.default", "geo3d.knn.default"} <= targets
    other_xyz, other_feats = torch.rand(2, 128, 3), torch.randn(2, 128, 6)
    assert torch.equal(
        program.module()(other_xyz, other_feats), sample_and_group(other_xyz, other_feats)
    )


def test_export_of_voxelize_has_a_dynamic_voxel_count():
    class Voxelizer(torch.nn.Module):
        def forward(self, points):
            voxels, coords, num = ops.voxelize(points, [0.5, 0.5, 0.5], [0, 0, 0, 4, 4, 2], 4, 100)
            return voxels.sum(dim=1), coords, num

    points = torch.rand(500, 4) * 4
    program = torch.export.export(
        Voxelizer(), (points,), dynamic_shapes={"points": {0: torch.export.Dim("num_points")}}
    )
    other = torch.rand(700, 4) * 3
    for got, want in zip(program.module()(other), Voxelizer()(other)):
        assert torch.equal(got, want)


def garbage_cases():
    """Calls straight into the dispatcher, past the Python checks: the kernel must refuse."""
    f = torch.rand(2, 10, 3)
    long = lambda *v: torch.tensor(v, dtype=torch.long)  # noqa: E731
    op = torch.ops.geo3d

    def soft_backward(index, segments):
        """scatter's soft backward of 5 rows into 2 segments (``out`` has ``segments``)."""
        grad, src = torch.rand(2, 2), torch.rand(5, 2)
        return op.scatter_soft_backward(grad, src, index, torch.rand(segments, 2), torch.rand(2, 2))

    return [
        lambda: op.farthest_point_sample(f, long(10, 99), 4, long(0, 0)),
        lambda: op.farthest_point_sample(f, long(10, -5), 4, long(0, 0)),
        lambda: op.farthest_point_sample(f, long(10, 10), 4, long(0, 10)),
        lambda: op.farthest_point_sample(f, long(10), 4, long(0, 0)),
        lambda: op.farthest_point_sample(torch.rand(2, 10, 2), long(10, 10), 4, long(0, 0)),
        lambda: op.farthest_point_sample(f, long(10, 10), 0, long(0, 0)),
        lambda: op.knn(f, f, long(10, 11), long(10, 10), 3),
        lambda: op.knn(f, f, long(10, 10), long(-1, 10), 3),
        lambda: op.knn(f, f, long(10, 10), long(10, 10), 0),
        lambda: op.knn(f, f.double(), long(10, 10), long(10, 10), 2),
        lambda: op.knn(f, f[:, :, :2].contiguous(), long(10, 10), long(10, 10), 2),
        lambda: op.ball_query(f, f, long(10, 10), long(10, 1000), 0.5, 3),
        lambda: op.ball_query(f, f, long(10, 10), long(10, 10), -0.5, 3),
        lambda: op.gather_points(f, long(0, 1, 2).reshape(1, 3).expand(2, 3).contiguous() * 100),
        lambda: op.gather_points(f, torch.full((2, 3), -7, dtype=torch.long)),
        lambda: op.gather_points_backward(f, torch.full((2, 10), 50, dtype=torch.long), 10),
        lambda: op.scatter(torch.rand(5, 2), long(0, 1, 2, 3, 9), 5, "sum"),
        lambda: op.scatter(torch.rand(5, 2), long(0, 1, 2, 3, -9), 5, "max"),
        lambda: op.scatter(torch.rand(5, 2), long(0, 1), 5, "sum"),
        lambda: op.scatter(torch.rand(5, 2), long(0, 1, 2, 3, 4), 5, "median"),
        lambda: soft_backward(long(0, 1, 0, 1, 7), segments=2),  # a segment past the output
        lambda: soft_backward(long(0, 1, 0, 1, 1), segments=3),  # out and lse disagree
        lambda: op.voxelize(torch.rand(5, 4), [0.0, 1.0, 1.0], [0.0, 0, 0, 1, 1, 1], 2, 3),
        lambda: op.voxelize(torch.rand(5, 4), [1.0, 1.0, 1.0], [0.0, 0, 0, -1, 1, 1], 2, 3),
        lambda: op.voxelize(torch.rand(5, 4), [1.0, 1.0], [0.0, 0, 0, 1, 1, 1], 2, 3),
        lambda: op.voxelize(torch.rand(5, 4), [1.0, 1.0, 1.0], [0.0, 0, 0, 1, 1, 1], 0, 3),
        lambda: op.dynamic_voxelize(torch.rand(5, 2), [1.0, 1.0, 1.0], [0.0, 0, 0, 1, 1, 1]),
        lambda: op.kitti_statistics(*_kitti_with(gt_ptr=long(0, 5)), *_KITTI_TAIL),
        lambda: op.kitti_statistics(*_kitti_with(overlap_ptr=long(0, 99)), *_KITTI_TAIL),
        lambda: op.kitti_statistics(*_kitti_with(dt_ptr=long(1, 2)), *_KITTI_TAIL),
    ]


_KITTI_TAIL = (torch.zeros(1, dtype=torch.float64), 0.5, True, False)


def _kitti_with(**changes):
    return tuple({**_KITTI, **changes}.values())


@pytest.mark.parametrize("case", range(len(garbage_cases())))
def test_native_kernels_refuse_garbage(case):
    with pytest.raises(RuntimeError):
        garbage_cases()[case]()


def test_native_voxelize_survives_extreme_coordinates():
    # Values that overflow int when divided (the Python wrapper rejects inf/NaN; huge is legal).
    points = torch.tensor([[3e38, 0.5, 0.5], [-3e38, 0.5, 0.5], [0.5, 0.5, 0.5]])
    voxels, coords, num = torch.ops.geo3d.voxelize(
        points, [1.0, 1.0, 1.0], [0.0, 0, 0, 1, 1, 1], 2, 3
    )
    assert num.tolist() == [1] and coords.tolist() == [[0, 0, 0]]
    nan_points = torch.tensor([[float("nan"), 0.5, 0.5], [0.5, 0.5, 0.5]])
    coords = torch.ops.geo3d.dynamic_voxelize(nan_points, [1.0, 1.0, 1.0], [0.0, 0, 0, 1, 1, 1])
    assert coords.tolist() == [[-1, -1, -1], [0, 0, 0]]
