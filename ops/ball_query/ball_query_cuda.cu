// Ball query on the GPU: one thread per query scans the support cloud in index order and
// stops at max_neighbors, the semantics (and shape) of PointNet++'s kernel, with -1 in
// the unused slots instead of repeating the first neighbour.
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/cuda_launch.h"
#include "../common/cuda_math.cuh"

namespace geo3d {
namespace cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void ball_query_kernel(const T* __restrict__ query, const T* __restrict__ support,
                                  const int64_t* __restrict__ query_lengths,
                                  const int64_t* __restrict__ support_lengths,
                                  int64_t batch_offset, int64_t num_queries, int64_t n, T radius2,
                                  int64_t max_neighbors, int64_t* __restrict__ idx) {
  const int64_t b = batch_offset + blockIdx.y;
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t qlen = query_lengths[b] < num_queries ? query_lengths[b] : num_queries;
  const int64_t slen = support_lengths[b] < n ? support_lengths[b] : n;
  if (i >= qlen) return;
  const T* p = query + (b * num_queries + i) * 3;
  const T qx = p[0], qy = p[1], qz = p[2];
  int64_t* row = idx + (b * num_queries + i) * max_neighbors;
  int64_t count = 0;
  for (int64_t j = 0; j < slen && count < max_neighbors; ++j) {
    const T* s = support + (b * n + j) * 3;
    if (squared_distance(qx, qy, qz, s[0], s[1], s[2]) < radius2) row[count++] = j;
  }
}

}  // namespace

template <typename T>
int ball_query(const T* query, const T* support, const int64_t* query_lengths,
               const int64_t* support_lengths, int64_t batch, int64_t num_queries, int64_t n,
               T radius2, int64_t max_neighbors, int64_t* idx, void* stream) {
  if (batch == 0 || num_queries == 0 || n == 0) return 0;
  return launch_over_clouds(batch, num_queries, kThreads, [&](dim3 grid, int64_t offset) {
    ball_query_kernel<T><<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        query, support, query_lengths, support_lengths, offset, num_queries, n, radius2,
        max_neighbors, idx);
  });
}

template int ball_query<float>(const float*, const float*, const int64_t*, const int64_t*,
                               int64_t, int64_t, int64_t, float, int64_t, int64_t*, void*);
template int ball_query<double>(const double*, const double*, const int64_t*, const int64_t*,
                                int64_t, int64_t, int64_t, double, int64_t, int64_t*, void*);

}  // namespace cuda
}  // namespace geo3d
