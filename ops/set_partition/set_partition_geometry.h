// DSVT's window and set arithmetic, shared by the CPU kernel and the CUDA kernels so that
// both compute the same keys and ranks (the CPU tests cover the arithmetic the GPU runs).
// Plain C++ with host/device qualifiers where compiled by nvcc.
#pragma once

#include <cstdint>

#ifndef __CUDACC__
#include <c10/util/ArrayRef.h>
#include <c10/util/Exception.h>
#endif

#ifdef __CUDACC__
#define GEO3D_SET_HOST_DEVICE __host__ __device__
#else
#define GEO3D_SET_HOST_DEVICE
#endif

namespace geo3d {

struct WindowGeometry {
  int64_t size[3];    // sparse grid (z, y, x)
  int64_t window[3];  // window (wz, wy, wx) in voxels
  int64_t shift[3];   // coordinate offset before windowing (z forced to 0 where one window
                      // spans the grid, as OpenPCDet's get_window_coors)
  int64_t count[3];   // windows per axis: ceil(size / window) + 1 (room for the shift)

  GEO3D_SET_HOST_DEVICE int64_t volume() const { return window[0] * window[1] * window[2]; }
  GEO3D_SET_HOST_DEVICE int64_t per_scene() const { return count[0] * count[1] * count[2]; }

  GEO3D_SET_HOST_DEVICE bool inside(const int32_t* v) const {
    return v[0] >= 0 && v[0] < (int64_t(1) << 20) && v[1] >= 0 && v[1] < size[0] && v[2] >= 0 &&
           v[2] < size[1] && v[3] >= 0 && v[3] < size[2];
  }

  // Voxel v = (batch, z, y, x): its in-window (z, y, x) into `local`, and the two sort keys
  // window_number * volume + in-window order, by (y, x, z) and by (x, y, z). Windows are
  // numbered x-major per scene.
  GEO3D_SET_HOST_DEVICE void keys(const int32_t* v, int32_t* local, int64_t* by_y,
                                  int64_t* by_x) const {
    int64_t w[3], l[3];
    for (int a = 0; a < 3; ++a) {
      const int64_t shifted = v[a + 1] + shift[a];
      w[a] = shifted / window[a];
      l[a] = shifted % window[a];
      local[a] = static_cast<int32_t>(l[a]);
    }
    const int64_t number = v[0] * per_scene() + (w[2] * count[1] + w[1]) * count[0] + w[0];
    *by_y = number * volume() + (l[1] * window[2] + l[2]) * window[0] + l[0];
    *by_x = number * volume() + (l[2] * window[1] + l[1]) * window[0] + l[0];
  }
};

// The rank (in its window's order) of the voxel in slot t of set j, for a window of `voxels`
// voxels cut into `num_sets` sets: floor((j * set_size + t) * voxels / (num_sets *
// set_size)) in float64, in the official code's order of operations (get_set_single_shift).
GEO3D_SET_HOST_DEVICE inline int64_t slot_rank(int64_t j, int64_t t, int64_t set_size,
                                               int64_t voxels, int64_t num_sets) {
  const double index = static_cast<double>(j * set_size + t);
  const double slots = static_cast<double>(num_sets * set_size);
  return static_cast<int64_t>(index * static_cast<double>(voxels) / slots);
}

#ifndef __CUDACC__
// Checked geometry from the op's arguments (the same rules on every device).
inline WindowGeometry make_window_geometry(c10::IntArrayRef sparse_shape, c10::IntArrayRef window,
                                           c10::IntArrayRef shift, int64_t set_size) {
  TORCH_CHECK(sparse_shape.size() == 3 && window.size() == 3 && shift.size() == 3,
              "geo3d: 'sparse_shape', 'window' and 'shift' need 3 values each");
  TORCH_CHECK(set_size >= 1 && set_size <= 4096, "geo3d: 'set_size' must be in [1, 4096]");
  WindowGeometry g;
  double key_range = static_cast<double>(int64_t(1) << 20);  // batches
  for (int a = 0; a < 3; ++a) {
    g.size[a] = sparse_shape[a];
    g.window[a] = window[a];
    g.shift[a] = shift[a];
    TORCH_CHECK(g.size[a] >= 1 && g.size[a] < (int64_t(1) << 24), "geo3d: 'sparse_shape'[", a,
                "] = ", g.size[a], " is outside [1, 2^24)");
    TORCH_CHECK(g.window[a] >= 1 && g.window[a] <= 1024, "geo3d: 'window'[", a, "] = ",
                g.window[a], " is outside [1, 1024]");
    TORCH_CHECK(g.shift[a] >= 0 && g.shift[a] < g.window[a], "geo3d: 'shift'[", a, "] = ",
                g.shift[a], " is outside [0, window)");
    g.count[a] = (g.size[a] + g.window[a] - 1) / g.window[a] + 1;
    key_range *= static_cast<double>(g.count[a]) * static_cast<double>(g.window[a]);
  }
  TORCH_CHECK(key_range < 9.2e18, "geo3d: the sparse grid is too large for 64-bit window keys");
  if (g.size[0] == g.window[0]) g.shift[0] = 0;
  return g;
}
#endif

}  // namespace geo3d
