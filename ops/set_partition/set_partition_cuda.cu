// DSVT's dynamic set partition on the GPU, in three kernels around a stable sort done by the
// torch glue (set_partition_cuda_glue.cpp): window keys per voxel, window starts on the
// sorted keys, and one thread per set slot filling both orders. Keys and ranks come from
// set_partition_geometry.h, the arithmetic the CPU kernel runs, so both devices give the
// same sets.
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/cuda_launch.h"

namespace geo3d {
namespace cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

__global__ void window_keys_kernel(const int32_t* __restrict__ coords, int64_t n, WindowGeometry g,
                                   int32_t* __restrict__ local, int64_t* __restrict__ by_y,
                                   int64_t* __restrict__ by_x, int32_t* __restrict__ outside) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int32_t* v = coords + 4 * i;
  if (!g.inside(v)) {
    atomicMin(outside, static_cast<int32_t>(i));  // the first bad row, as the CPU reports
    by_y[i] = by_x[i] = 0;
    local[3 * i] = local[3 * i + 1] = local[3 * i + 2] = 0;
    return;
  }
  g.keys(v, local + 3 * i, by_y + i, by_x + i);
}

__global__ void window_starts_kernel(const int64_t* __restrict__ sorted, int64_t n,
                                     int64_t volume, int32_t* __restrict__ starts,
                                     int32_t* __restrict__ repeated) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  if (i == 0) {
    starts[i] = 1;
    return;
  }
  if (sorted[i] == sorted[i - 1]) atomicMin(repeated, static_cast<int32_t>(i));
  starts[i] = sorted[i] / volume != sorted[i - 1] / volume ? 1 : 0;
}

__global__ void fill_sets_kernel(const int64_t* __restrict__ order_y,
                                 const int64_t* __restrict__ order_x,
                                 const int64_t* __restrict__ window_start,
                                 const int64_t* __restrict__ first_set, int64_t windows,
                                 int64_t set_size, int64_t slots, int64_t* __restrict__ sets_y,
                                 int64_t* __restrict__ sets_x) {
  const int64_t slot = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (slot >= slots) return;
  const int64_t set = slot / set_size, t = slot % set_size;
  // the window holding this set: the last w with first_set[w] <= set
  int64_t low = 0, high = windows - 1;
  while (low < high) {
    const int64_t middle = (low + high + 1) / 2;
    if (first_set[middle] <= set) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  const int64_t voxels = window_start[low + 1] - window_start[low];
  const int64_t num_sets = first_set[low + 1] - first_set[low];
  const int64_t rank = slot_rank(set - first_set[low], t, set_size, voxels, num_sets);
  sets_y[slot] = order_y[window_start[low] + rank];
  sets_x[slot] = order_x[window_start[low] + rank];
}

}  // namespace

int set_partition_keys(const int32_t* coords, int64_t n, const WindowGeometry& geometry,
                       int32_t* local, int64_t* by_y, int64_t* by_x, int32_t* outside,
                       void* stream) {
  if (n > 0) {
    window_keys_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        coords, n, geometry, local, by_y, by_x, outside);
  }
  return static_cast<int>(cudaGetLastError());
}

int set_partition_starts(const int64_t* sorted, int64_t n, int64_t volume, int32_t* starts,
                         int32_t* repeated, void* stream) {
  if (n > 0) {
    window_starts_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        sorted, n, volume, starts, repeated);
  }
  return static_cast<int>(cudaGetLastError());
}

int set_partition_fill(const int64_t* order_y, const int64_t* order_x,
                       const int64_t* window_start, const int64_t* first_set, int64_t windows,
                       int64_t set_size, int64_t sets, int64_t* sets_y, int64_t* sets_x,
                       void* stream) {
  const int64_t slots = sets * set_size;
  if (slots > 0 && windows > 0) {
    fill_sets_kernel<<<blocks_for(slots), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        order_y, order_x, window_start, first_set, windows, set_size, slots, sets_y, sets_x);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace cuda
}  // namespace geo3d
