// Torch-facing glue of the CUDA dynamic voxelization (built only where torch has CUDA).
// Hard voxelization on CUDA is served by the reference implementation (torch ops on the
// GPU) until a native kernel with the same first-point ordering exists.
#include <torch/library.h>

#include "../common/checks.h"
#include "../common/voxel_grid.h"
#include "../common/cuda_glue.h"
#include "../common/cuda_launch.h"

namespace geo3d {
namespace {

at::Tensor dynamic_voxelize_cuda(const at::Tensor& points, at::ArrayRef<double> voxel_size,
                                 at::ArrayRef<double> point_range) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) >= 3, "geo3d: expected 'points' of shape (N, C>=3)");
  TORCH_CHECK(points.is_contiguous(), "geo3d: 'points' must be contiguous");
  check_cuda(points, "points");
  const VoxelGrid grid = make_voxel_grid(voxel_size, point_range);
  const c10::cuda::CUDAGuard guard(points.device());
  at::Tensor coords = at::empty({points.size(0), 3}, points.options().dtype(at::kInt));
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "dynamic_voxelize_cuda", [&] {
    check_launch(cuda::dynamic_voxelize<scalar_t>(points.data_ptr<scalar_t>(), points.size(0),
                                                  points.size(1), grid.size, grid.low, grid.cells,
                                                  coords.data_ptr<int32_t>(),
                                                  current_stream(points)),
                 "dynamic_voxelize");
  });
  return coords;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) { m.impl("dynamic_voxelize", &dynamic_voxelize_cuda); }

}  // namespace geo3d
