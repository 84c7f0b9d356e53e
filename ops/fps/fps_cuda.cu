// Farthest point sampling on the GPU: one block per cloud. Each step, every thread lowers
// the distances of its points by the last selected point and keeps its farthest one;
// a shared-memory reduction picks the block's farthest (ties to the lowest index).
// Padded and packed batches differ only in their CloudLayout (cloud_layout.h).
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/cuda_launch.h"
#include "../common/cuda_math.cuh"

namespace geo3d {
namespace cuda {
namespace {

constexpr int kThreads = 512;

template <typename T>
__device__ __forceinline__ bool beats(T d, int64_t i, T other_d, int64_t other_i) {
  return d > other_d || (d == other_d && i < other_i);
}

template <typename T>
__global__ void fps_kernel(const T* __restrict__ xyz, CloudLayout points, CloudLayout samples,
                           const int64_t* __restrict__ start, int64_t* __restrict__ out,
                           T* __restrict__ scratch) {
  __shared__ T best_d[kThreads];
  __shared__ int64_t best_i[kThreads];
  const int64_t b = blockIdx.x;
  // Inputs are validated by the Python wrapper; guard again so that no value read here
  // can send a thread out of bounds (a bad length or start leaves the row at -1).
  const int64_t length = points.size(b);
  if (length <= 0 || start[b] < 0 || start[b] >= length) return;
  const T* cloud = xyz + points.begin(b) * 3;
  T* dist = scratch + points.begin(b);
  int64_t* rows = out + samples.begin(b);
  const int64_t base = points.index_base(b);
  const int64_t wanted = samples.size(b);
  for (int64_t i = threadIdx.x; i < length; i += blockDim.x) dist[i] = T(INFINITY);
  int64_t current = start[b];
  const int64_t steps = wanted < length ? wanted : length;
  __syncthreads();
  for (int64_t step = 0; step < steps; ++step) {
    if (threadIdx.x == 0) rows[step] = base + current;
    const T sx = cloud[3 * current], sy = cloud[3 * current + 1], sz = cloud[3 * current + 2];
    T my_d = T(-1);
    int64_t my_i = 0;
    for (int64_t i = threadIdx.x; i < length; i += blockDim.x) {
      const T nd = squared_distance(cloud[3 * i], cloud[3 * i + 1], cloud[3 * i + 2], sx, sy, sz);
      const T v = nd < dist[i] ? nd : dist[i];
      dist[i] = v;
      if (beats(v, i, my_d, my_i)) {
        my_d = v;
        my_i = i;
      }
    }
    best_d[threadIdx.x] = my_d;
    best_i[threadIdx.x] = my_i;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
      if (threadIdx.x < half &&
          beats(best_d[threadIdx.x + half], best_i[threadIdx.x + half], best_d[threadIdx.x],
                best_i[threadIdx.x])) {
        best_d[threadIdx.x] = best_d[threadIdx.x + half];
        best_i[threadIdx.x] = best_i[threadIdx.x + half];
      }
      __syncthreads();
    }
    current = best_i[0];
    __syncthreads();  // everyone has read best_i[0] before it is overwritten
  }
}

}  // namespace

template <typename T>
int farthest_point_sample(const T* xyz, const CloudLayout& points, const CloudLayout& samples,
                          const int64_t* start, int64_t batch, int64_t* out, T* scratch,
                          void* stream) {
  if (batch == 0) return 0;
  fps_kernel<T><<<static_cast<unsigned>(batch), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      xyz, points, samples, start, out, scratch);
  return static_cast<int>(cudaGetLastError());
}

template int farthest_point_sample<float>(const float*, const CloudLayout&, const CloudLayout&,
                                          const int64_t*, int64_t, int64_t*, float*, void*);
template int farthest_point_sample<double>(const double*, const CloudLayout&,
                                           const CloudLayout&, const int64_t*, int64_t,
                                           int64_t*, double*, void*);

}  // namespace cuda
}  // namespace geo3d
