// The voxel grid shared by the CPU kernels and the CUDA glue, so that both accept and
// reject exactly the same grids. Voxel coordinates are written as int32 (spconv's and
// OpenPCDet's layout), so every axis must have at most INT32_MAX cells.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace geo3d {

struct VoxelGrid {
  double size[3];
  double low[3];
  int64_t cells[3];
};

inline VoxelGrid make_voxel_grid(at::ArrayRef<double> voxel_size, at::ArrayRef<double> point_range) {
  TORCH_CHECK(voxel_size.size() == 3, "geo3d: 'voxel_size' must have 3 values, got ", voxel_size.size());
  TORCH_CHECK(point_range.size() == 6, "geo3d: 'point_range' must have 6 values, got ", point_range.size());
  const char* axis_name[3] = {"x", "y", "z"};
  const double int32_max = static_cast<double>(std::numeric_limits<int32_t>::max());
  VoxelGrid grid;
  for (int a = 0; a < 3; ++a) {
    TORCH_CHECK(voxel_size[a] > 0 && std::isfinite(voxel_size[a]),
                "geo3d: 'voxel_size' must be positive and finite (", axis_name[a], ": ", voxel_size[a], ")");
    TORCH_CHECK(std::isfinite(point_range[a]) && std::isfinite(point_range[a + 3]),
                "geo3d: 'point_range' must be finite");
    grid.size[a] = voxel_size[a];
    grid.low[a] = point_range[a];
    // Half to even, as numpy and torch round (spconv, mmcv): 2.5 cells is 2.
    const double cells = std::nearbyint((point_range[a + 3] - point_range[a]) / voxel_size[a]);
    TORCH_CHECK(cells >= 1, "geo3d: 'point_range' is empty along ", axis_name[a]);
    TORCH_CHECK(cells <= int32_max, "geo3d: the voxel grid has ", cells, " cells along ",
                axis_name[a], "; int32 voxel coordinates hold at most ", int32_max);
    grid.cells[a] = static_cast<int64_t>(cells);
  }
  TORCH_CHECK(static_cast<double>(grid.cells[0]) * grid.cells[1] * grid.cells[2] < 4.0e18,
              "geo3d: the voxel grid is too large to index");
  return grid;
}

}  // namespace geo3d
