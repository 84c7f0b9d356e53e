// The geometry of a sparse 3D convolution, shared by the CPU kernel and the CUDA glue:
// which input position an output voxel reads at a kernel offset, and linear voxel keys.
// Plain C++ with host/device qualifiers where compiled by nvcc.
#pragma once

#include <cstdint>

#ifndef __CUDACC__
#include <ATen/ATen.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/Exception.h>
#endif

#ifdef __CUDACC__
#define GEO3D_HOST_DEVICE __host__ __device__
#else
#define GEO3D_HOST_DEVICE
#endif

namespace geo3d {

struct ConvGeometry {
  int64_t shape[3];     // input grid (z, y, x)
  int64_t kernel[3];
  int64_t stride[3];
  int64_t padding[3];
  int64_t dilation[3];

  GEO3D_HOST_DEVICE int64_t volume() const { return kernel[0] * kernel[1] * kernel[2]; }

  // Linear key of (batch, z, y, x) in the input grid.
  GEO3D_HOST_DEVICE int64_t key(int64_t batch, const int64_t* zyx) const {
    return ((batch * shape[0] + zyx[0]) * shape[1] + zyx[1]) * shape[2] + zyx[2];
  }
  GEO3D_HOST_DEVICE int64_t key(const int32_t* bzyx) const {
    const int64_t zyx[3] = {bzyx[1], bzyx[2], bzyx[3]};
    return key(bzyx[0], zyx);
  }

  // The input position read by output `out` (batch, z, y, x) at kernel offset k (z-major);
  // false where it falls outside the input grid.
  GEO3D_HOST_DEVICE bool input_of(const int32_t* out, int64_t k, int64_t* position) const {
    const int64_t offset[3] = {k / (kernel[1] * kernel[2]), (k / kernel[2]) % kernel[1],
                               k % kernel[2]};
    bool inside = true;
    for (int a = 0; a < 3; ++a) {
      position[a] = out[a + 1] * stride[a] - padding[a] + offset[a] * dilation[a];
      inside = inside && position[a] >= 0 && position[a] < shape[a];
    }
    return inside;
  }

  // The inverse: the output key (on the batch's output grids of `cells` (z, y, x)) that
  // input `in` (batch, z, y, x) reaches through kernel offset k, or -1 where the offset's
  // numerator in + padding - offset * dilation is not a multiple of the stride or lands off
  // the output grid.
  GEO3D_HOST_DEVICE int64_t output_key(const int32_t* in, int64_t k, const int64_t* cells) const {
    const int64_t offset[3] = {k / (kernel[1] * kernel[2]), (k / kernel[2]) % kernel[1],
                               k % kernel[2]};
    int64_t key = in[0];
    for (int a = 0; a < 3; ++a) {
      const int64_t numerator = in[a + 1] + padding[a] - offset[a] * dilation[a];
      if (numerator < 0 || numerator % stride[a] != 0) return -1;
      const int64_t position = numerator / stride[a];
      if (position >= cells[a]) return -1;
      key = key * cells[a] + position;
    }
    return key;
  }
};

// Row (batch, z, y, x) of an output key on grids of `cells` (z, y, x).
GEO3D_HOST_DEVICE inline void decode_output_key(int64_t key, const int64_t* cells, int32_t* row) {
  for (int a = 2; a >= 0; --a) {
    row[a + 1] = static_cast<int32_t>(key % cells[a]);
    key /= cells[a];
  }
  row[0] = static_cast<int32_t>(key);
}

#ifndef __CUDACC__
// (N, 4) int32 (batch, z, y, x) rows, contiguous, fewer than 2^31 (the device is the
// caller's check).
inline void check_voxel_coords(const at::Tensor& coords, const char* name) {
  TORCH_CHECK(coords.dim() == 2 && coords.size(1) == 4, "geo3d: expected '", name,
              "' of shape (N, 4) as (batch, z, y, x), got ", coords.sizes());
  TORCH_CHECK(coords.scalar_type() == at::kInt, "geo3d: '", name, "' must be int32");
  TORCH_CHECK(coords.is_contiguous(), "geo3d: '", name, "' must be contiguous");
  TORCH_CHECK(coords.size(0) < (int64_t(1) << 31), "geo3d: '", name, "' has 2^31 rows or more");
}

inline ConvGeometry make_conv_geometry(c10::IntArrayRef shape, c10::IntArrayRef kernel,
                                       c10::IntArrayRef stride, c10::IntArrayRef padding,
                                       c10::IntArrayRef dilation) {
  const char* names[5] = {"in_shape", "kernel_size", "stride", "padding", "dilation"};
  const c10::IntArrayRef values[5] = {shape, kernel, stride, padding, dilation};
  ConvGeometry g;
  int64_t* fields[5] = {g.shape, g.kernel, g.stride, g.padding, g.dilation};
  for (int f = 0; f < 5; ++f) {
    TORCH_CHECK(values[f].size() == 3, "geo3d: '", names[f], "' needs 3 values, got ",
                values[f].size());
    for (int a = 0; a < 3; ++a) {
      const int64_t low = f == 3 ? 0 : 1;
      TORCH_CHECK(values[f][a] >= low && values[f][a] < (int64_t(1) << 20), "geo3d: '",
                  names[f], "'[", a, "] = ", values[f][a], " is outside [", low, ", 2^20)");
      fields[f][a] = values[f][a];
    }
  }
  return g;
}

// The output grid of sparse_conv_outputs into cells (z, y, x), checked as every device does.
inline void check_output_grid(c10::IntArrayRef out_shape, const ConvGeometry& g, int64_t* cells) {
  TORCH_CHECK(out_shape.size() == 3, "geo3d: 'out_shape' needs 3 values");
  for (int a = 0; a < 3; ++a) {
    cells[a] = out_shape[a];
    TORCH_CHECK(cells[a] >= 1 && cells[a] < (int64_t(1) << 31), "geo3d: 'out_shape'[", a,
                "] = ", cells[a], " is outside [1, 2^31)");
    TORCH_CHECK(g.kernel[a] <= 64, "geo3d: 'kernel_size'[", a, "] is over 64");
  }
}
#endif

}  // namespace geo3d
