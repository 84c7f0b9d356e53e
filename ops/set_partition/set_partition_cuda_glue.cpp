// Torch-facing glue of the CUDA set partition (built only where torch has CUDA): checks the
// input as on the CPU, runs the key kernel, sorts both key sets with a stable sort (ranks
// within a window are then deterministic), finds the windows and fills the sets.
#include <torch/library.h>

#include <limits>
#include <tuple>

#include "../common/cuda_glue.h"
#include "../common/cuda_launch.h"
#include "../sparse_conv/sparse_conv_geometry.h"
#include "set_partition_geometry.h"

namespace geo3d {
namespace {

constexpr int32_t kNone = std::numeric_limits<int32_t>::max();

int32_t flagged_row(const at::Tensor& flag) { return flag.cpu().data_ptr<int32_t>()[0]; }

std::tuple<at::Tensor, at::Tensor> set_partition_cuda(const at::Tensor& coords,
                                                      at::IntArrayRef sparse_shape,
                                                      at::IntArrayRef window,
                                                      at::IntArrayRef shift, int64_t set_size) {
  check_voxel_coords(coords, "coords");
  check_cuda(coords, "coords");
  const WindowGeometry g = make_window_geometry(sparse_shape, window, shift, set_size);
  const c10::cuda::CUDAGuard guard(coords.device());
  const int64_t n = coords.size(0);
  const auto options = coords.options();
  at::Tensor local = at::empty({n, 3}, options);
  if (n == 0) return {at::empty({2, 0, set_size}, options.dtype(at::kLong)), local};

  at::Tensor keys = at::empty({2, n}, options.dtype(at::kLong));
  at::Tensor outside = at::full({1}, kNone, options);
  check_launch(cuda::set_partition_keys(coords.data_ptr<int32_t>(), n, g,
                                        local.data_ptr<int32_t>(), keys[0].data_ptr<int64_t>(),
                                        keys[1].data_ptr<int64_t>(),
                                        outside.data_ptr<int32_t>(), current_stream(coords)),
               "set_partition_keys");
  const int32_t bad = flagged_row(outside);
  if (bad != kNone) {
    const at::Tensor row = coords[bad].cpu();
    const int32_t* v = row.data_ptr<int32_t>();
    TORCH_CHECK(false, "geo3d: 'coords'[", bad, "] = (", v[0], ", ", v[1], ", ", v[2], ", ",
                v[3], ") is outside the grid");
  }
  const auto [sorted_y, order_y] = keys[0].sort(/*stable=*/true, /*dim=*/0, /*descending=*/false);
  const auto [sorted_x, order_x] = keys[1].sort(/*stable=*/true, /*dim=*/0, /*descending=*/false);

  at::Tensor starts = at::empty({n}, options);
  at::Tensor repeated = at::full({1}, kNone, options);
  check_launch(cuda::set_partition_starts(sorted_y.data_ptr<int64_t>(), n, g.volume(),
                                          starts.data_ptr<int32_t>(),
                                          repeated.data_ptr<int32_t>(), current_stream(coords)),
               "set_partition_starts");
  const int32_t twice = flagged_row(repeated);
  if (twice != kNone) {
    const at::Tensor rows = order_y.slice(0, twice - 1, twice + 1).cpu();
    TORCH_CHECK(false, "geo3d: 'coords' rows ", rows.data_ptr<int64_t>()[0], " and ",
                rows.data_ptr<int64_t>()[1], " are the same voxel (coordinates must be unique)");
  }
  const at::Tensor window_start =
      at::cat({at::nonzero(starts).flatten(), at::full({1}, n, options.dtype(at::kLong))});
  const int64_t windows = window_start.size(0) - 1;
  const at::Tensor num_sets = at::floor_divide(window_start.diff() + (set_size - 1), set_size);
  const at::Tensor first_set =
      at::cat({at::zeros({1}, options.dtype(at::kLong)), num_sets.cumsum(0)}).contiguous();
  const int64_t sets = first_set[windows].item<int64_t>();

  at::Tensor out = at::empty({2, sets, set_size}, options.dtype(at::kLong));
  check_launch(cuda::set_partition_fill(order_y.contiguous().data_ptr<int64_t>(),
                                        order_x.contiguous().data_ptr<int64_t>(),
                                        window_start.data_ptr<int64_t>(),
                                        first_set.data_ptr<int64_t>(), windows, set_size, sets,
                                        out[0].data_ptr<int64_t>(), out[1].data_ptr<int64_t>(),
                                        current_stream(coords)),
               "set_partition_fill");
  return {out, local};
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) { m.impl("set_partition", &set_partition_cuda); }

}  // namespace geo3d
