// Torch-facing glue of the CUDA sparse convolution rulebook (built only where torch has
// CUDA). The inputs are checked as on the CPU before any kernel runs: coordinate ranges
// from a min/max reduction, repeated voxels from the insert kernel's flag.
#include <torch/library.h>

#include "../common/checks.h"
#include "../common/cuda_glue.h"
#include "../common/cuda_launch.h"
#include "sparse_conv_geometry.h"

namespace geo3d {
namespace {

void check_coords(const at::Tensor& coords, const char* name) {
  check_voxel_coords(coords, name);
  check_cuda(coords, name);
}

at::Tensor sparse_conv_neighbors_cuda(const at::Tensor& in_coords, const at::Tensor& out_coords,
                                      at::IntArrayRef in_shape, at::IntArrayRef kernel_size,
                                      at::IntArrayRef stride, at::IntArrayRef padding,
                                      at::IntArrayRef dilation) {
  check_coords(in_coords, "in_coords");
  check_coords(out_coords, "out_coords");
  check_same_device(in_coords, "in_coords", out_coords, "out_coords");
  const ConvGeometry g = make_conv_geometry(in_shape, kernel_size, stride, padding, dilation);
  const int64_t n = in_coords.size(0), m = out_coords.size(0);
  const c10::cuda::CUDAGuard guard(in_coords.device());
  int64_t max_batch = 0;
  if (n > 0) {
    const at::Tensor low = std::get<0>(in_coords.min(0)).cpu();
    const at::Tensor high = std::get<0>(in_coords.max(0)).cpu();
    const int32_t* lo = low.data_ptr<int32_t>();
    const int32_t* hi = high.data_ptr<int32_t>();
    TORCH_CHECK(lo[0] >= 0 && lo[1] >= 0 && lo[2] >= 0 && lo[3] >= 0 && hi[1] < g.shape[0] &&
                    hi[2] < g.shape[1] && hi[3] < g.shape[2],
                "geo3d: 'in_coords' has coordinates outside the grid (batch >= 0, (z, y, x) < (",
                g.shape[0], ", ", g.shape[1], ", ", g.shape[2], "))");
    max_batch = hi[0];
  }
  if (m > 0) {
    TORCH_CHECK(std::get<0>(out_coords.min(0)).cpu().data_ptr<int32_t>()[0] >= 0,
                "geo3d: 'out_coords' has a negative batch index");
  }
  TORCH_CHECK((max_batch + 1) <= (int64_t(1) << 62) / (g.shape[0] * g.shape[1] * g.shape[2]),
              "geo3d: batch x grid is too large for 64-bit voxel keys");
  int64_t capacity = 16;
  while (capacity < 2 * n) capacity <<= 1;
  const auto options = in_coords.options();
  at::Tensor keys = at::full({capacity}, -1, options.dtype(at::kLong));
  at::Tensor values = at::empty({capacity}, options.dtype(at::kInt));
  at::Tensor duplicate = at::full({1}, -1, options.dtype(at::kInt));
  at::Tensor neighbors = at::empty({m, g.volume()}, options.dtype(at::kLong));
  check_launch(cuda::sparse_conv_neighbors(in_coords.data_ptr<int32_t>(), n,
                                           out_coords.data_ptr<int32_t>(), m, g,
                                           keys.data_ptr<int64_t>(), values.data_ptr<int32_t>(),
                                           capacity, duplicate.data_ptr<int32_t>(),
                                           neighbors.data_ptr<int64_t>(), current_stream(in_coords)),
               "sparse_conv_neighbors");
  const int32_t repeated = duplicate.cpu().data_ptr<int32_t>()[0];
  TORCH_CHECK(repeated < 0, "geo3d: 'in_coords' row ", repeated,
              " repeats a voxel (coordinates must be unique)");
  return neighbors;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) {
  m.impl("sparse_conv_neighbors", &sparse_conv_neighbors_cuda);
}

}  // namespace geo3d
