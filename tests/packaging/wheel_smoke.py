"""Run by tests/packaging/test_wheel.py with the Python of a fresh virtual environment
that holds only the built wheel and its core dependencies, from a folder outside the
repository: what a user who ran `pip install geo3d-*.whl` gets."""

import os
import sys

import torch

import geo3d
from geo3d import ops
from geo3d.ops._library import SCHEMAS, has_native_kernel
from geo3d.ops.boxes import box_iou_bev

where = os.path.dirname(geo3d.__file__)
assert "site-packages" in where or os.environ.get("GEO3D_SMOKE_ANYWHERE"), (
    f"geo3d imported from {where}, not from the installed wheel"
)
assert ops.native_available(), "geo3d._C did not load from the wheel"
missing = [name for name in SCHEMAS if not has_native_kernel(name, "cpu")]
assert not missing, f"no native CPU kernel for {missing}"

g = torch.Generator().manual_seed(0)
xyz = torch.rand(2, 200, 3, generator=g)
lengths = torch.tensor([200, 150])
start = torch.zeros(2, dtype=torch.long)
assert torch.equal(
    ops.farthest_point_sample(xyz, 32, lengths),
    ops.farthest_point_sample_reference(xyz, lengths, 32, start),
)
dist, idx = ops.knn(xyz, xyz, 8, lengths, lengths)
ref_dist, ref_idx = ops.knn_reference(xyz, xyz, lengths, lengths, 8)
assert torch.equal(idx, ref_idx) and torch.equal(dist, ref_dist)
assert torch.equal(
    ops.ball_query(xyz, xyz, 0.2, 16, lengths, lengths),
    ops.ball_query_reference(xyz, xyz, lengths, lengths, 0.2, 16),
)
packed, ptr = xyz.reshape(-1, 3), ops.ptr_from_lengths([200, 200])
samples, sample_ptr = ops.farthest_point_sample_packed(packed, ptr, 16)
assert torch.equal(
    samples, ops.farthest_point_sample_packed_reference(packed, ptr, sample_ptr, 32, start)
)
feats = torch.randn(2, 200, 5, generator=g, dtype=torch.float64, requires_grad=True)
torch.autograd.gradcheck(lambda f: ops.gather_points(f, idx[:, :20]), (feats,))
points = torch.rand(500, 4, generator=g) * torch.tensor([10.0, 10.0, 2.0, 1.0])
voxels, coords, counts = ops.voxelize(points, [0.5, 0.5, 0.5], [0, 0, 0, 10, 10, 2], 8, 1000)
assert int(counts.sum()) == 500 and coords.shape[0] == voxels.shape[0]
index = torch.randint(0, 7, (100,), generator=g)
src = torch.randn(100, 3, generator=g)
for reduce in ops.REDUCTIONS:
    assert torch.allclose(
        ops.scatter(src, index, 7, reduce), ops.scatter_reference(src, index, 7, reduce)[0]
    )
grid = torch.randn(2, 3, 8, 8, generator=g)
want = ops.soft_pool_reference(grid, [2, 2], [2, 2], [0, 0])[0]
assert torch.allclose(ops.soft_pool2d(grid, 2), want, atol=1e-6)
boxes = torch.tensor([[0.0, 0, 0, 2, 1, 1, 0.3], [0.5, 0, 0, 2, 1, 1, 0.0]])
assert torch.allclose(box_iou_bev(boxes, boxes).diagonal(), torch.ones(2, dtype=torch.float32))
print(f"geo3d {geo3d.__version__} from {where}: {len(SCHEMAS)} native ops, all checks passed")
sys.exit(0)
