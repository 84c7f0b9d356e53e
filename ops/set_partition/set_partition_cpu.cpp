// DSVT's dynamic set partition on the CPU (Wang et al., CVPR 2023, section 3.1; OpenPCDet's
// dsvt_input_layer.py, get_window_coors and get_set_single_shift).
//
// Voxels (batch, z, y, x) go to windows of (wz, wy, wx) voxels after a shift; a window of n
// voxels gets S = ceil(n / set_size) sets, and slot t of set j holds the voxel of rank
// floor((j * set_size + t) * n / (S * set_size)) (computed in float64, as the official code)
// in the window's order. Two orders ("rotated sets"): by (y, x, z) and by (x, y, z) of the
// in-window coordinates. Windows are numbered x-major per scene on a grid of
// ceil(size / window) + 1 windows per axis, as the official code, and sets follow the
// windows' numbers; the shift along z is 0 where one window spans the whole z range.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include "../common/checks.h"
#include "../sparse_conv/sparse_conv_geometry.h"
#include "set_partition_geometry.h"

namespace geo3d {
namespace {

std::tuple<at::Tensor, at::Tensor> set_partition_cpu(const at::Tensor& coords,
                                                     at::IntArrayRef sparse_shape,
                                                     at::IntArrayRef window, at::IntArrayRef shift,
                                                     int64_t set_size) {
  check_voxel_coords(coords, "coords");
  TORCH_CHECK(coords.device().is_cpu(), "geo3d: 'coords' must be a CPU tensor here");
  const WindowGeometry g = make_window_geometry(sparse_shape, window, shift, set_size);
  const int64_t n = coords.size(0), volume = g.volume();
  const int32_t* c = coords.data_ptr<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t* v = c + 4 * i;
    TORCH_CHECK(g.inside(v), "geo3d: 'coords'[", i, "] = (", v[0], ", ", v[1], ", ", v[2], ", ",
                v[3], ") is outside the grid");
  }
  at::Tensor local = at::empty({n, 3}, coords.options());
  int32_t* in_window = local.data_ptr<int32_t>();
  // Sort keys: window number, then the in-window position in each order.
  std::vector<std::pair<int64_t, int32_t>> by_y(n), by_x(n);
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      g.keys(c + 4 * i, in_window + 3 * i, &by_y[i].first, &by_x[i].first);
      by_y[i].second = by_x[i].second = static_cast<int32_t>(i);
    }
  });
  std::sort(by_y.begin(), by_y.end());
  std::sort(by_x.begin(), by_x.end());
  for (int64_t i = 1; i < n; ++i) {
    TORCH_CHECK(by_y[i].first != by_y[i - 1].first, "geo3d: 'coords' rows ", by_y[i - 1].second,
                " and ", by_y[i].second, " are the same voxel (coordinates must be unique)");
  }
  // Windows in number order: their first sorted position and voxel count.
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < n; ++i) {
    if (i == 0 || by_y[i].first / volume != by_y[i - 1].first / volume) starts.push_back(i);
  }
  const int64_t windows = static_cast<int64_t>(starts.size());
  starts.push_back(n);
  std::vector<int64_t> first_set(windows + 1, 0);
  for (int64_t w = 0; w < windows; ++w) {
    const int64_t voxels = starts[w + 1] - starts[w];
    first_set[w + 1] = first_set[w] + (voxels + set_size - 1) / set_size;
  }
  const int64_t sets = first_set[windows];
  at::Tensor out = at::empty({2, sets, set_size}, coords.options().dtype(at::kLong));
  int64_t* sets_y = out.data_ptr<int64_t>();
  int64_t* sets_x = sets_y + sets * set_size;
  at::parallel_for(0, windows, 256, [&](int64_t begin, int64_t end) {
    for (int64_t w = begin; w < end; ++w) {
      const int64_t voxels = starts[w + 1] - starts[w], num_sets = first_set[w + 1] - first_set[w];
      for (int64_t j = 0; j < num_sets; ++j) {
        for (int64_t t = 0; t < set_size; ++t) {
          const int64_t rank = slot_rank(j, t, set_size, voxels, num_sets);
          const int64_t slot = (first_set[w] + j) * set_size + t;
          sets_y[slot] = by_y[starts[w] + rank].second;
          sets_x[slot] = by_x[starts[w] + rank].second;
        }
      }
    }
  });
  return {out, local};
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) { m.impl("set_partition", &set_partition_cpu); }

}  // namespace geo3d
