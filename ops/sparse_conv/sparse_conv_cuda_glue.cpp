// Torch-facing glue of the CUDA sparse convolution rulebook and active outputs (built only
// where torch has CUDA). The inputs are checked as on the CPU before any kernel runs:
// coordinate ranges from a min/max reduction, repeated voxels from the insert kernel's flag.
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

// Coordinate ranges from a min/max reduction (N > 0); returns the largest batch index.
int64_t check_in_grid(const at::Tensor& coords, const char* name, const ConvGeometry& g) {
  const at::Tensor low = std::get<0>(coords.min(0)).cpu();
  const at::Tensor high = std::get<0>(coords.max(0)).cpu();
  const int32_t* lo = low.data_ptr<int32_t>();
  const int32_t* hi = high.data_ptr<int32_t>();
  TORCH_CHECK(lo[0] >= 0 && lo[1] >= 0 && lo[2] >= 0 && lo[3] >= 0 && hi[1] < g.shape[0] &&
                  hi[2] < g.shape[1] && hi[3] < g.shape[2],
              "geo3d: '", name, "' has coordinates outside the grid (batch >= 0, (z, y, x) < (",
              g.shape[0], ", ", g.shape[1], ", ", g.shape[2], "))");
  return hi[0];
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
  const int64_t max_batch = n > 0 ? check_in_grid(in_coords, "in_coords", g) : 0;
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

// The active outputs of a strided convolution, sorted by (batch, z, y, x) as on the CPU:
// through a bitmap over the batch's output grids up to 2^32 cells (512 MiB), else through
// candidate keys, a sort and a unique.
at::Tensor sparse_conv_outputs_cuda(const at::Tensor& coords, at::IntArrayRef in_shape,
                                    at::IntArrayRef kernel_size, at::IntArrayRef stride,
                                    at::IntArrayRef padding, at::IntArrayRef dilation,
                                    at::IntArrayRef out_shape) {
  check_coords(coords, "coords");
  const ConvGeometry g = make_conv_geometry(in_shape, kernel_size, stride, padding, dilation);
  int64_t cells[3];
  check_output_grid(out_shape, g, cells);
  const c10::cuda::CUDAGuard guard(coords.device());
  const int64_t n = coords.size(0);
  const auto options = coords.options();
  if (n == 0) return at::empty({0, 4}, options);
  const int64_t max_batch = check_in_grid(coords, "coords", g);
  const int64_t grid_cells = cells[0] * cells[1] * cells[2];
  TORCH_CHECK((max_batch + 1) <= (int64_t(1) << 62) / grid_cells,
              "geo3d: batch x output grid is too large for 64-bit voxel keys");
  const int64_t total = (max_batch + 1) * grid_cells;
  void* stream = current_stream(coords);
  if (total <= (int64_t(1) << 32)) {
    const int64_t words = (total + 63) / 64;
    at::Tensor bits = at::zeros({words}, options.dtype(at::kLong));
    auto* bit_words = reinterpret_cast<uint64_t*>(bits.data_ptr<int64_t>());
    check_launch(cuda::sparse_conv_mark_outputs(coords.data_ptr<int32_t>(), n, g, cells,
                                                bit_words, stream),
                 "sparse_conv_mark_outputs");
    at::Tensor counts = at::empty({words}, options.dtype(at::kLong));
    check_launch(cuda::sparse_conv_count_outputs(bit_words, words, counts.data_ptr<int64_t>(),
                                                 stream),
                 "sparse_conv_count_outputs");
    const at::Tensor ends = counts.cumsum(0);
    const at::Tensor offsets = (ends - counts).contiguous();
    const int64_t m = ends[words - 1].item<int64_t>();
    at::Tensor out = at::empty({m, 4}, options);
    check_launch(cuda::sparse_conv_emit_outputs(bit_words, words, offsets.data_ptr<int64_t>(),
                                                cells, out.data_ptr<int32_t>(), stream),
                 "sparse_conv_emit_outputs");
    return out;
  }
  at::Tensor candidates = at::empty({n * g.volume()}, options.dtype(at::kLong));
  check_launch(cuda::sparse_conv_candidate_keys(coords.data_ptr<int32_t>(), n, g, cells,
                                                candidates.data_ptr<int64_t>(), stream),
               "sparse_conv_candidate_keys");
  const at::Tensor sorted = std::get<0>(candidates.masked_select(candidates >= 0).sort());
  const at::Tensor keys = std::get<0>(at::unique_consecutive(sorted)).contiguous();
  at::Tensor out = at::empty({keys.size(0), 4}, options);
  check_launch(cuda::sparse_conv_decode_keys(keys.data_ptr<int64_t>(), keys.size(0), cells,
                                             out.data_ptr<int32_t>(), stream),
               "sparse_conv_decode_keys");
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) {
  m.impl("sparse_conv_neighbors", &sparse_conv_neighbors_cuda);
  m.impl("sparse_conv_outputs", &sparse_conv_outputs_cuda);
}

}  // namespace geo3d
