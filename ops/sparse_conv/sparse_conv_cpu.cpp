// The rulebook of a sparse 3D convolution on the CPU: for every output voxel and kernel
// offset, the input voxel it reads (or -1).
//
// Output o (b, z, y, x) at kernel offset k = (kz, ky, kx) reads the input at
// o * stride - padding + k * dilation on each axis (a cross-correlation, spconv's
// convention; kernel offsets are numbered z-major, as spconv's weight (C_out, kz, ky, kx,
// C_in)). The active input coordinates go into a hash table of linear keys, so memory is
// linear in the voxels, never in the grid.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../common/checks.h"
#include "../common/key_table.h"
#include "sparse_conv_geometry.h"

namespace geo3d {
namespace {

void check_coords(const at::Tensor& coords, const char* name) {
  check_voxel_coords(coords, name);
  TORCH_CHECK(coords.device().is_cpu(), "geo3d: '", name, "' must be a CPU tensor here");
}

at::Tensor sparse_conv_neighbors_cpu(const at::Tensor& in_coords, const at::Tensor& out_coords,
                                     at::IntArrayRef in_shape, at::IntArrayRef kernel_size,
                                     at::IntArrayRef stride, at::IntArrayRef padding,
                                     at::IntArrayRef dilation) {
  check_coords(in_coords, "in_coords");
  check_coords(out_coords, "out_coords");
  const ConvGeometry g = make_conv_geometry(in_shape, kernel_size, stride, padding, dilation);
  const int64_t n = in_coords.size(0), m = out_coords.size(0), volume = g.volume();
  const int32_t* in = in_coords.data_ptr<int32_t>();
  const int32_t* out = out_coords.data_ptr<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t* c = in + 4 * i;
    TORCH_CHECK(c[0] >= 0 && c[1] >= 0 && c[1] < g.shape[0] && c[2] >= 0 &&
                    c[2] < g.shape[1] && c[3] >= 0 && c[3] < g.shape[2],
                "geo3d: 'in_coords'[", i, "] = (", c[0], ", ", c[1], ", ", c[2], ", ", c[3],
                ") is outside the grid (batch >= 0, (z, y, x) < (", g.shape[0], ", ",
                g.shape[1], ", ", g.shape[2], "))");
  }
  int64_t max_batch = 0;
  for (int64_t i = 0; i < n; ++i) max_batch = std::max<int64_t>(max_batch, in[4 * i]);
  for (int64_t o = 0; o < m; ++o) {
    TORCH_CHECK(out[4 * o] >= 0, "geo3d: 'out_coords'[", o, "] has batch index ", out[4 * o]);
  }
  TORCH_CHECK((max_batch + 1) <= (int64_t(1) << 62) / (g.shape[0] * g.shape[1] * g.shape[2]),
              "geo3d: batch x grid is too large for 64-bit voxel keys");
  KeyTable table(n);
  for (int64_t i = 0; i < n; ++i) {
    bool inserted;
    int32_t& value = table.find_or_insert(g.key(in + 4 * i), inserted);
    TORCH_CHECK(inserted, "geo3d: 'in_coords' rows ", value, " and ", i,
                " are the same voxel (coordinates must be unique)");
    value = static_cast<int32_t>(i);
  }
  at::Tensor neighbors = at::empty({m, volume}, in_coords.options().dtype(at::kLong));
  int64_t* result = neighbors.data_ptr<int64_t>();
  at::parallel_for(0, m, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      const int32_t* c = out + 4 * o;
      int64_t* row = result + o * volume;
      for (int64_t k = 0; k < volume; ++k) {
        int64_t position[3];
        row[k] = g.input_of(c, k, position) ? table.find(g.key(c[0], position)) : -1;
      }
    }
  });
  return neighbors;
}

// For each axis, the kernel offsets that land an input coordinate on an output (the
// numerator c + padding - k * dilation divisible by the stride and inside the output grid),
// so that no invalid (input, offset) pair is ever visited.
struct AxisHits {
  int64_t position[64];
  int count = 0;
};

inline void axis_hits(int64_t c, int64_t kernel, int64_t stride, int64_t padding,
                      int64_t dilation, int64_t cells, AxisHits& hits) {
  hits.count = 0;
  for (int64_t k = 0; k < kernel; ++k) {
    const int64_t numerator = c + padding - k * dilation;
    if (numerator < 0 || numerator % stride != 0) continue;
    const int64_t position = numerator / stride;
    if (position < cells) hits.position[hits.count++] = position;
  }
}

// The active outputs of a strided convolution: every output position (on out_shape) that
// reads at least one input, sorted by (batch, z, y, x). Outputs are marked in a bitmap over
// the batch's output grids (6 MB for four KITTI scenes at SECOND's first stride) and read
// back in key order, so no sort is needed; grids too large for that (over 2^33 cells) go
// through a hash table and a sort of the unique keys.
at::Tensor sparse_conv_outputs_cpu(const at::Tensor& coords, at::IntArrayRef in_shape,
                                   at::IntArrayRef kernel_size, at::IntArrayRef stride,
                                   at::IntArrayRef padding, at::IntArrayRef dilation,
                                   at::IntArrayRef out_shape) {
  check_coords(coords, "coords");
  const ConvGeometry g = make_conv_geometry(in_shape, kernel_size, stride, padding, dilation);
  int64_t cells[3];
  check_output_grid(out_shape, g, cells);
  const int64_t n = coords.size(0);
  const int32_t* in = coords.data_ptr<int32_t>();
  int64_t max_batch = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t* c = in + 4 * i;
    TORCH_CHECK(c[0] >= 0 && c[1] >= 0 && c[1] < g.shape[0] && c[2] >= 0 &&
                    c[2] < g.shape[1] && c[3] >= 0 && c[3] < g.shape[2],
                "geo3d: 'coords'[", i, "] is outside the grid");
    max_batch = std::max<int64_t>(max_batch, c[0]);
  }
  const int64_t grid_cells = cells[0] * cells[1] * cells[2];
  TORCH_CHECK((max_batch + 1) <= (int64_t(1) << 62) / grid_cells,
              "geo3d: batch x output grid is too large for 64-bit voxel keys");
  const int64_t total = (max_batch + 1) * grid_cells;

  auto for_each_output = [&](int64_t i, auto&& visit) {
    const int32_t* c = in + 4 * i;
    AxisHits z, y, x;
    axis_hits(c[1], g.kernel[0], g.stride[0], g.padding[0], g.dilation[0], cells[0], z);
    axis_hits(c[2], g.kernel[1], g.stride[1], g.padding[1], g.dilation[1], cells[1], y);
    axis_hits(c[3], g.kernel[2], g.stride[2], g.padding[2], g.dilation[2], cells[2], x);
    for (int a = 0; a < z.count; ++a) {
      for (int b = 0; b < y.count; ++b) {
        const int64_t row = ((c[0] * cells[0] + z.position[a]) * cells[1] + y.position[b]) * cells[2];
        for (int e = 0; e < x.count; ++e) visit(row + x.position[e]);
      }
    }
  };

  std::vector<int64_t> keys;
  if (n > 0 && total <= (int64_t(1) << 33)) {
    std::vector<uint64_t> bits((total + 63) / 64, 0);
    for (int64_t i = 0; i < n; ++i) {
      for_each_output(i, [&](int64_t key) { bits[key >> 6] |= uint64_t(1) << (key & 63); });
    }
    for (size_t word = 0; word < bits.size(); ++word) {
      uint64_t value = bits[word];
      while (value) {
        const int bit = __builtin_ctzll(value);
        keys.push_back(static_cast<int64_t>(word) * 64 + bit);
        value &= value - 1;
      }
    }
  } else if (n > 0) {
    KeyTable table(std::min<int64_t>(n * g.volume(), int64_t(1) << 30));
    // offset by offset through output_key, the arithmetic the GPU kernels run
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t k = 0; k < g.volume(); ++k) {
        const int64_t key = g.output_key(in + 4 * i, k, cells);
        if (key < 0) continue;
        bool inserted;
        table.find_or_insert(key, inserted);
        if (inserted) keys.push_back(key);
      }
    }
    std::sort(keys.begin(), keys.end());
  }
  const int64_t m = static_cast<int64_t>(keys.size());
  at::Tensor out = at::empty({m, 4}, coords.options());
  int32_t* result = out.data_ptr<int32_t>();
  at::parallel_for(0, m, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      decode_output_key(keys[o], cells, result + 4 * o);
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) {
  m.impl("sparse_conv_neighbors", &sparse_conv_neighbors_cpu);
  m.impl("sparse_conv_outputs", &sparse_conv_outputs_cpu);
}

}  // namespace geo3d
