// Hard and dynamic voxelization on the CPU.
//
// Voxel coordinates are floor((p - min) / size) in the points' dtype, inside when
// 0 <= c < round((max - min) / size) on every axis (spconv's PointToVoxel, mmcv).
// Hard voxelization numbers voxels in the order of their first point, so its assignment
// pass is sequential; the keys are computed in parallel first, and voxels are found in
// an open-addressing hash table sized to the points (no dense grid: a KITTI grid at
// 0.05 m has 90 M cells).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "../common/checks.h"
#include "../common/key_table.h"
#include "../common/voxel_grid.h"

namespace geo3d {
namespace {

using Grid = VoxelGrid;

Grid make_grid(at::ArrayRef<double> voxel_size, at::ArrayRef<double> point_range) {
  return make_voxel_grid(voxel_size, point_range);
}

void check_points(const at::Tensor& points) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) >= 3, "geo3d: expected 'points' of shape (N, C>=3), got ",
              points.sizes());
  TORCH_CHECK(points.scalar_type() == at::kFloat || points.scalar_type() == at::kDouble,
              "geo3d: 'points' must be float32 or float64");
  TORCH_CHECK(points.is_contiguous(), "geo3d: 'points' must be contiguous");
  TORCH_CHECK(points.device().is_cpu(), "geo3d: 'points' must be a CPU tensor here");
}

// Each point's linear voxel key (z-major), or -1 outside the grid; coords as (x, y, z).
template <typename T>
void point_keys(const T* points, int64_t n, int64_t stride, const Grid& grid, int64_t* keys,
                int32_t* xyz_coords) {
  const T size[3] = {static_cast<T>(grid.size[0]), static_cast<T>(grid.size[1]),
                     static_cast<T>(grid.size[2])};
  const T low[3] = {static_cast<T>(grid.low[0]), static_cast<T>(grid.low[1]),
                    static_cast<T>(grid.low[2])};
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T* p = points + i * stride;
      int64_t c[3];
      bool inside = true;
      for (int a = 0; a < 3; ++a) {
        const T f = std::floor((p[a] - low[a]) / size[a]);
        // Compare in floating point before converting: NaN and huge values stay outside.
        inside &= (f >= T(0)) & (f < static_cast<T>(grid.cells[a]));
        c[a] = inside ? static_cast<int64_t>(f) : -1;
      }
      keys[i] = inside ? (c[2] * grid.cells[1] + c[1]) * grid.cells[0] + c[0] : -1;
      for (int a = 0; a < 3; ++a) xyz_coords[3 * i + a] = inside ? static_cast<int32_t>(c[a]) : -1;
    }
  });
}

using VoxelTable = KeyTable;

std::tuple<at::Tensor, at::Tensor, at::Tensor> voxelize_cpu(const at::Tensor& points,
                                                            at::ArrayRef<double> voxel_size,
                                                            at::ArrayRef<double> point_range,
                                                            int64_t max_points_per_voxel,
                                                            int64_t max_voxels) {
  check_points(points);
  TORCH_CHECK(max_points_per_voxel >= 1, "geo3d: 'max_points_per_voxel' must be at least 1");
  TORCH_CHECK(max_voxels >= 1 && max_voxels < (int64_t(1) << 31), "geo3d: 'max_voxels' must be in [1, 2^31)");
  const Grid grid = make_grid(voxel_size, point_range);
  const int64_t n = points.size(0), channels = points.size(1);
  std::vector<int64_t> keys(n);
  std::vector<int32_t> coords_xyz(3 * n);
  const int64_t capacity = std::min<int64_t>(n, max_voxels);

  // Sequential assignment pass (voxel order = order of first points).
  std::vector<int32_t> voxel_of_point(n, -1), slot_of_point(n, -1);
  std::vector<int32_t> counts;
  std::vector<int64_t> first_point;
  counts.reserve(capacity);
  first_point.reserve(capacity);

  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "voxelize_keys", [&] {
    point_keys(points.data_ptr<scalar_t>(), n, channels, grid, keys.data(), coords_xyz.data());
  });
  // Sized for every distinct key (dropped voxels are remembered too), so it never fills.
  int64_t inside = 0;
  for (int64_t i = 0; i < n; ++i) inside += keys[i] >= 0;
  VoxelTable table(inside);
  int64_t last_key = -1;  // consecutive LiDAR points often share a voxel: skip the lookup
  int32_t last_voxel = -1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t key = keys[i];
    if (key < 0) continue;
    int32_t voxel = last_voxel;
    if (key != last_key) {
      bool inserted;
      int32_t& value = table.find_or_insert(key, inserted);
      if (inserted) {
        if (static_cast<int64_t>(counts.size()) >= max_voxels) {
          value = -1;  // remembered as dropped
        } else {
          value = static_cast<int32_t>(counts.size());
          counts.push_back(0);
          first_point.push_back(i);
        }
      }
      voxel = value;
      last_key = key;
      last_voxel = voxel;
    }
    if (voxel < 0 || counts[voxel] >= max_points_per_voxel) continue;
    voxel_of_point[i] = voxel;
    slot_of_point[i] = counts[voxel]++;
  }

  const int64_t num_voxels = static_cast<int64_t>(counts.size());
  // Not zero-filled up front: each voxel's unused tail is zeroed below, in parallel, so
  // every byte is written once (the pillar setting is mostly empty slots).
  at::Tensor voxels = at::empty({num_voxels, max_points_per_voxel, channels}, points.options());
  at::Tensor coords = at::empty({num_voxels, 3}, points.options().dtype(at::kInt));
  at::Tensor num_points = at::empty({num_voxels}, points.options().dtype(at::kInt));
  int32_t* coords_out = coords.data_ptr<int32_t>();
  int32_t* count_out = num_points.data_ptr<int32_t>();
  for (int64_t v = 0; v < num_voxels; ++v) {
    const int32_t* c = coords_xyz.data() + 3 * first_point[v];
    coords_out[3 * v] = c[2];  // (z, y, x)
    coords_out[3 * v + 1] = c[1];
    coords_out[3 * v + 2] = c[0];
    count_out[v] = counts[v];
  }
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "voxelize_copy", [&] {
    const scalar_t* src = points.data_ptr<scalar_t>();
    scalar_t* dst = voxels.data_ptr<scalar_t>();
    const int64_t voxel_stride = max_points_per_voxel * channels;
    at::parallel_for(0, num_voxels, 256, [&](int64_t begin, int64_t end) {
      for (int64_t v = begin; v < end; ++v) {
        std::fill(dst + v * voxel_stride + counts[v] * channels, dst + (v + 1) * voxel_stride,
                  scalar_t(0));
      }
    });
    at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        if (voxel_of_point[i] < 0) continue;
        std::memcpy(dst + (voxel_of_point[i] * max_points_per_voxel + slot_of_point[i]) * channels,
                    src + i * channels, channels * sizeof(scalar_t));
      }
    });
  });
  return {voxels, coords, num_points};
}

at::Tensor dynamic_voxelize_cpu(const at::Tensor& points, at::ArrayRef<double> voxel_size,
                                at::ArrayRef<double> point_range) {
  check_points(points);
  const Grid grid = make_grid(voxel_size, point_range);
  const int64_t n = points.size(0);
  std::vector<int64_t> keys(n);
  std::vector<int32_t> coords_xyz(3 * n);
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "dynamic_voxelize_cpu", [&] {
    point_keys(points.data_ptr<scalar_t>(), n, points.size(1), grid, keys.data(),
               coords_xyz.data());
  });
  at::Tensor coords = at::empty({n, 3}, points.options().dtype(at::kInt));
  int32_t* out = coords.data_ptr<int32_t>();
  at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      out[3 * i] = coords_xyz[3 * i + 2];
      out[3 * i + 1] = coords_xyz[3 * i + 1];
      out[3 * i + 2] = coords_xyz[3 * i];
    }
  });
  return coords;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) {
  m.impl("voxelize", &voxelize_cpu);
  m.impl("dynamic_voxelize", &dynamic_voxelize_cpu);
}

}  // namespace geo3d
