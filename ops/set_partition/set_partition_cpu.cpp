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

namespace geo3d {
namespace {

std::tuple<at::Tensor, at::Tensor> set_partition_cpu(const at::Tensor& coords,
                                                     at::IntArrayRef sparse_shape,
                                                     at::IntArrayRef window, at::IntArrayRef shift,
                                                     int64_t set_size) {
  check_voxel_coords(coords, "coords");
  TORCH_CHECK(coords.device().is_cpu(), "geo3d: 'coords' must be a CPU tensor here");
  TORCH_CHECK(sparse_shape.size() == 3 && window.size() == 3 && shift.size() == 3,
              "geo3d: 'sparse_shape', 'window' and 'shift' need 3 values each");
  TORCH_CHECK(set_size >= 1 && set_size <= 4096, "geo3d: 'set_size' must be in [1, 4096]");
  int64_t size[3], win[3], offset[3], count[3];
  for (int a = 0; a < 3; ++a) {
    size[a] = sparse_shape[a];
    win[a] = window[a];
    offset[a] = shift[a];
    TORCH_CHECK(size[a] >= 1 && size[a] < (int64_t(1) << 24), "geo3d: 'sparse_shape'[", a,
                "] = ", size[a], " is outside [1, 2^24)");
    TORCH_CHECK(win[a] >= 1 && win[a] <= 1024, "geo3d: 'window'[", a, "] = ", win[a],
                " is outside [1, 1024]");
    TORCH_CHECK(offset[a] >= 0 && offset[a] < win[a], "geo3d: 'shift'[", a, "] = ", offset[a],
                " is outside [0, window)");
    count[a] = (size[a] + win[a] - 1) / win[a] + 1;  // + 1: room for the shift
  }
  if (size[0] == win[0]) offset[0] = 0;
  const int64_t n = coords.size(0), volume = win[0] * win[1] * win[2];
  const int64_t per_scene = count[0] * count[1] * count[2];
  const int32_t* c = coords.data_ptr<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t* v = c + 4 * i;
    TORCH_CHECK(v[0] >= 0 && v[0] < (int64_t(1) << 20) && v[1] >= 0 && v[1] < size[0] &&
                    v[2] >= 0 && v[2] < size[1] && v[3] >= 0 && v[3] < size[2],
                "geo3d: 'coords'[", i, "] = (", v[0], ", ", v[1], ", ", v[2], ", ", v[3],
                ") is outside the grid");
  }
  at::Tensor local = at::empty({n, 3}, coords.options());
  int32_t* in_window = local.data_ptr<int32_t>();
  // Sort keys: window number, then the in-window position in each order.
  std::vector<std::pair<int64_t, int32_t>> by_y(n), by_x(n);
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int32_t* v = c + 4 * i;
      int64_t w[3], l[3];
      for (int a = 0; a < 3; ++a) {
        const int64_t shifted = v[a + 1] + offset[a];
        w[a] = shifted / win[a];
        l[a] = shifted % win[a];
        in_window[3 * i + a] = static_cast<int32_t>(l[a]);
      }
      const int64_t window_id = v[0] * per_scene + (w[2] * count[1] + w[1]) * count[0] + w[0];
      const int64_t y_order = (l[1] * win[2] + l[2]) * win[0] + l[0];  // (y, x, z)
      const int64_t x_order = (l[2] * win[1] + l[1]) * win[0] + l[0];  // (x, y, z)
      by_y[i] = {window_id * volume + y_order, static_cast<int32_t>(i)};
      by_x[i] = {window_id * volume + x_order, static_cast<int32_t>(i)};
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
      const double slots = static_cast<double>(num_sets * set_size);
      for (int64_t j = 0; j < num_sets; ++j) {
        for (int64_t t = 0; t < set_size; ++t) {
          // the official order of operations: (index * n) / slots, in float64
          const double index = static_cast<double>(j * set_size + t);
          const int64_t rank = static_cast<int64_t>(index * static_cast<double>(voxels) / slots);
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
