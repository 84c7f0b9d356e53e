// Dynamic voxelization on the GPU: one thread per point, the same arithmetic as the CPU
// kernel (floor((p - min) / size) in the points' dtype, compared before conversion).
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/cuda_launch.h"

namespace geo3d {
namespace cuda {
namespace {

struct GridArgs {
  double size[3];
  double low[3];
  int64_t cells[3];
};

template <typename T>
__global__ void dynamic_voxelize_kernel(const T* __restrict__ points, int64_t n,
                                        int64_t channels, GridArgs grid,
                                        int32_t* __restrict__ coords) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const T* p = points + i * channels;
  int32_t c[3];
  bool inside = true;
  for (int a = 0; a < 3; ++a) {
    const T f = floor((p[a] - static_cast<T>(grid.low[a])) / static_cast<T>(grid.size[a]));
    inside = inside && f >= T(0) && f < static_cast<T>(grid.cells[a]);
    c[a] = inside ? static_cast<int32_t>(f) : -1;
  }
  coords[3 * i] = inside ? c[2] : -1;
  coords[3 * i + 1] = inside ? c[1] : -1;
  coords[3 * i + 2] = inside ? c[0] : -1;
}

}  // namespace

template <typename T>
int dynamic_voxelize(const T* points, int64_t n, int64_t channels, const double* voxel_size,
                     const double* low, const int64_t* cells, int32_t* coords, void* stream) {
  if (n == 0) return 0;
  GridArgs grid;
  for (int a = 0; a < 3; ++a) {
    grid.size[a] = voxel_size[a];
    grid.low[a] = low[a];
    grid.cells[a] = cells[a];
  }
  const int threads = 256;
  dynamic_voxelize_kernel<T><<<static_cast<unsigned>((n + threads - 1) / threads), threads, 0,
                               static_cast<cudaStream_t>(stream)>>>(points, n, channels, grid,
                                                                    coords);
  return static_cast<int>(cudaGetLastError());
}

template int dynamic_voxelize<float>(const float*, int64_t, int64_t, const double*,
                                     const double*, const int64_t*, int32_t*, void*);
template int dynamic_voxelize<double>(const double*, int64_t, int64_t, const double*,
                                      const double*, const int64_t*, int32_t*, void*);

}  // namespace cuda
}  // namespace geo3d
