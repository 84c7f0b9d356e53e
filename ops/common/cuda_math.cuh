// Device helpers shared by the CUDA kernels (plain CUDA C++, no torch).
#pragma once

#include <cuda_runtime.h>

namespace geo3d {
namespace cuda {

// (dx*dx + dy*dy) + dz*dz: with --fmad=false, the arithmetic of the CPU kernels and the
// Python references, so every device selects the same points.
template <typename T>
__device__ __forceinline__ T squared_distance(T ax, T ay, T az, T bx, T by, T bz) {
  const T dx = ax - bx, dy = ay - by, dz = az - bz;
  return (dx * dx + dy * dy) + dz * dz;
}

}  // namespace cuda
}  // namespace geo3d
