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
  TORCH_CHECK(coords.dim() == 2 && coords.size(1) == 4, "geo3d: expected '", name,
              "' of shape (N, 4) as (batch, z, y, x), got ", coords.sizes());
  TORCH_CHECK(coords.scalar_type() == at::kInt, "geo3d: '", name, "' must be int32");
  TORCH_CHECK(coords.is_contiguous(), "geo3d: '", name, "' must be contiguous");
  TORCH_CHECK(coords.device().is_cpu(), "geo3d: '", name, "' must be a CPU tensor here");
  TORCH_CHECK(coords.size(0) < (int64_t(1) << 31), "geo3d: '", name, "' has 2^31 rows or more");
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

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) { m.impl("sparse_conv_neighbors", &sparse_conv_neighbors_cpu); }

}  // namespace geo3d
