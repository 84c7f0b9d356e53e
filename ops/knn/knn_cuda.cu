// k nearest neighbours on the GPU: one thread per query scans its support cloud (tiles
// staged in shared memory) and keeps a sorted top-k in the output rows themselves.
// Brute force is the right shape for the GPU at the sizes of point-cloud networks
// (support clouds of a few thousand points); ties go to the lower index as on the CPU.
// Padded and packed batches differ only in their CloudLayout (cloud_layout.h).
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/cuda_launch.h"
#include "../common/cuda_math.cuh"

namespace geo3d {
namespace cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void knn_kernel(const T* __restrict__ query, const T* __restrict__ support,
                           CloudLayout query_layout, CloudLayout support_layout,
                           int64_t batch_offset, int64_t k, T* __restrict__ dist,
                           int64_t* __restrict__ idx) {
  __shared__ T tile[3 * kThreads];
  const int64_t b = batch_offset + blockIdx.y;
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t qlen = query_layout.size(b), slen = support_layout.size(b);
  const int64_t qbegin = query_layout.begin(b), sbegin = support_layout.begin(b);
  const int64_t base = support_layout.index_base(b);
  const bool active = i < qlen;
  T qx = 0, qy = 0, qz = 0;
  if (active) {
    const T* p = query + (qbegin + i) * 3;
    qx = p[0];
    qy = p[1];
    qz = p[2];
  }
  T* row_d = dist + (active ? qbegin + i : 0) * k;
  int64_t* row_i = idx + (active ? qbegin + i : 0) * k;
  int64_t count = 0;
  for (int64_t start = 0; start < slen; start += kThreads) {
    const int64_t j = start + threadIdx.x;
    if (j < slen) {
      for (int a = 0; a < 3; ++a) tile[3 * threadIdx.x + a] = support[(sbegin + j) * 3 + a];
    }
    __syncthreads();
    const int64_t tile_size = slen - start < kThreads ? slen - start : kThreads;
    if (active) {
      for (int64_t t = 0; t < tile_size; ++t) {
        const T d = squared_distance(qx, qy, qz, tile[3 * t], tile[3 * t + 1], tile[3 * t + 2]);
        const int64_t s = base + start + t;  // ascending, so equal distances never displace
        if (count == k && !(d < row_d[k - 1])) continue;
        int64_t pos = count < k ? count++ : k - 1;
        while (pos > 0 && d < row_d[pos - 1]) {
          row_d[pos] = row_d[pos - 1];
          row_i[pos] = row_i[pos - 1];
          --pos;
        }
        row_d[pos] = d;
        row_i[pos] = s;
      }
    }
    __syncthreads();
  }
}

}  // namespace

template <typename T>
int knn(const T* query, const T* support, const CloudLayout& query_layout,
        const CloudLayout& support_layout, int64_t batch, int64_t max_queries, int64_t k,
        T* dist, int64_t* idx, void* stream) {
  if (batch == 0 || max_queries == 0) return 0;
  return launch_over_clouds(batch, max_queries, kThreads, [&](dim3 grid, int64_t offset) {
    knn_kernel<T><<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        query, support, query_layout, support_layout, offset, k, dist, idx);
  });
}

template int knn<float>(const float*, const float*, const CloudLayout&, const CloudLayout&,
                        int64_t, int64_t, int64_t, float*, int64_t*, void*);
template int knn<double>(const double*, const double*, const CloudLayout&, const CloudLayout&,
                         int64_t, int64_t, int64_t, double*, int64_t*, void*);

}  // namespace cuda
}  // namespace geo3d
