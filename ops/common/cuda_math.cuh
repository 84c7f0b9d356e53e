// Device helpers shared by the CUDA kernels (plain CUDA C++, no torch).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace geo3d {
namespace cuda {

// (dx*dx + dy*dy) + dz*dz: with --fmad=false, the arithmetic of the CPU kernels and the
// Python references, so every device selects the same points.
template <typename T>
__device__ __forceinline__ T squared_distance(T ax, T ay, T az, T bx, T by, T bz) {
  const T dx = ax - bx, dy = ay - by, dz = az - bz;
  return (dx * dx + dy * dy) + dz * dz;
}

// Per-query kernels over a batch of clouds: blockIdx.x tiles the queries, blockIdx.y the
// clouds. gridDim.y is capped at 65,535, so the batch goes in chunks of that many clouds;
// `launch(grid, offset)` launches one chunk whose first cloud is `offset`. Returns the
// first launch error (0 = success).
template <typename Launch>
inline int launch_over_clouds(int64_t batch, int64_t num_queries, int threads, Launch launch) {
  constexpr int64_t kMaxGridY = 65535;
  for (int64_t offset = 0; offset < batch; offset += kMaxGridY) {
    const int64_t chunk = batch - offset < kMaxGridY ? batch - offset : kMaxGridY;
    const dim3 grid(static_cast<unsigned>((num_queries + threads - 1) / threads),
                    static_cast<unsigned>(chunk));
    launch(grid, offset);
    const cudaError_t error = cudaGetLastError();
    if (error != cudaSuccess) return static_cast<int>(error);
  }
  return 0;
}

}  // namespace cuda
}  // namespace geo3d
