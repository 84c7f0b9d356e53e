// Point-NN's fused local aggregation on the GPU (see local_aggregation_cpu.cpp for the
// formula). point_nn_aggregate: one block per group, threads over the 2C channels, the
// group's neighbour rows and relative coordinates staged in shared memory chunk by chunk;
// each thread keeps its channel's running max and sum in registers, so the (B, G, K, C)
// tensors are never written. group_moments: one block per group writes its four float64
// sums; the glue adds them per cloud in a fixed order (deterministic).
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/cuda_launch.h"

namespace geo3d {
namespace cuda {
namespace {

constexpr int kChunk = 128;  // neighbours staged in shared memory at a time

__device__ inline float sin_of(float x) { return sinf(x); }
__device__ inline float cos_of(float x) { return cosf(x); }
__device__ inline double sin_of(double x) { return sin(x); }
__device__ inline double cos_of(double x) { return cos(x); }

template <typename T>
__global__ void aggregate_kernel(const T* __restrict__ xyz, const T* __restrict__ feats,
                                 const int64_t* __restrict__ centres,
                                 const int64_t* __restrict__ neighbours,
                                 const T* __restrict__ feat_scale, const T* __restrict__ xyz_scale,
                                 const T* __restrict__ denominators, T beta, int64_t points,
                                 int64_t channels, int64_t groups, int64_t k, T* __restrict__ out) {
  __shared__ int64_t rows[kChunk];
  __shared__ T relative[kChunk * 3];
  const int64_t group = blockIdx.x;
  const int64_t b = group / groups;
  const int64_t wide = 2 * channels, freq = wide / 6;
  const T* f = feats + b * points * channels;
  const T* p = xyz + b * points * 3;
  const int64_t c = centres[group];
  const T fscale = feat_scale[b], pscale = xyz_scale[b];
  for (int64_t j0 = 0; j0 < wide; j0 += blockDim.x) {
    const int64_t j = j0 + threadIdx.x;
    const bool active = j < wide;
    const int64_t axis = active ? j / (2 * freq) : 0;
    const int64_t m = active ? (j % (2 * freq)) / 2 : 0;
    const bool is_cos = active && (j & 1);
    const T denominator = denominators[m];
    const T centre_feat = active ? f[c * channels + (j < channels ? j : j - channels)] : T(0);
    T high = T(0), total = T(0);
    bool first = true;
    for (int64_t k0 = 0; k0 < k; k0 += kChunk) {
      const int64_t count = k - k0 < kChunk ? k - k0 : kChunk;
      __syncthreads();
      for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
        const int64_t n = neighbours[group * k + k0 + i];
        rows[i] = n;
        for (int a = 0; a < 3; ++a) relative[3 * i + a] = (p[n * 3 + a] - p[c * 3 + a]) / pscale;
      }
      __syncthreads();
      if (!active) continue;
      for (int64_t i = 0; i < count; ++i) {
        const T u = (beta * relative[3 * i + axis]) / denominator;
        const T encoding = is_cos ? cos_of(u) : sin_of(u);
        const T expanded =
            j < channels ? (f[rows[i] * channels + j] - centre_feat) / fscale : centre_feat;
        const T w = (expanded + encoding) * encoding;
        high = first ? w : (w > high ? w : high);
        total += w;
        first = false;
      }
    }
    if (active) out[group * wide + j] = high + total / static_cast<T>(k);
  }
}

template <typename T>
__global__ void moments_kernel(const T* __restrict__ xyz, const T* __restrict__ feats,
                               const int64_t* __restrict__ centres,
                               const int64_t* __restrict__ neighbours, int64_t points,
                               int64_t channels, int64_t groups, int64_t k,
                               double* __restrict__ partial) {
  __shared__ double sums[4][256];
  const int64_t group = blockIdx.x;
  const int64_t b = group / groups;
  const T* f = feats + b * points * channels;
  const T* p = xyz + b * points * 3;
  const int64_t c = centres[group];
  double local[4] = {0, 0, 0, 0};
  for (int64_t i = threadIdx.x; i < k * channels; i += blockDim.x) {
    const int64_t n = neighbours[group * k + i / channels], j = i % channels;
    const double d = static_cast<double>(f[n * channels + j] - f[c * channels + j]);
    local[0] += d;
    local[1] += d * d;
  }
  for (int64_t i = threadIdx.x; i < k * 3; i += blockDim.x) {
    const int64_t n = neighbours[group * k + i / 3], a = i % 3;
    const double d = static_cast<double>(p[n * 3 + a] - p[c * 3 + a]);
    local[2] += d;
    local[3] += d * d;
  }
  for (int q = 0; q < 4; ++q) sums[q][threadIdx.x] = local[q];
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      for (int q = 0; q < 4; ++q) sums[q][threadIdx.x] += sums[q][threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    for (int q = 0; q < 4; ++q) partial[group * 4 + q] = sums[q][0];
  }
}

}  // namespace

template <typename T>
int point_nn_aggregate(const T* xyz, const T* feats, const int64_t* centres,
                       const int64_t* neighbours, const T* feat_scale, const T* xyz_scale,
                       const T* denominators, T beta, int64_t batch, int64_t points,
                       int64_t channels, int64_t groups, int64_t k, T* out, void* stream) {
  const int64_t blocks = batch * groups;
  if (blocks > 0) {
    const int64_t wide = 2 * channels;
    const int threads = wide >= 256 ? 256 : static_cast<int>((wide + 31) / 32 * 32);
    aggregate_kernel<T><<<static_cast<unsigned>(blocks), threads, 0,
                          static_cast<cudaStream_t>(stream)>>>(
        xyz, feats, centres, neighbours, feat_scale, xyz_scale, denominators, beta, points,
        channels, groups, k, out);
  }
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int group_moments(const T* xyz, const T* feats, const int64_t* centres,
                  const int64_t* neighbours, int64_t batch, int64_t points, int64_t channels,
                  int64_t groups, int64_t k, double* partial, void* stream) {
  const int64_t blocks = batch * groups;
  if (blocks > 0) {
    moments_kernel<T><<<static_cast<unsigned>(blocks), 256, 0,
                        static_cast<cudaStream_t>(stream)>>>(
        xyz, feats, centres, neighbours, points, channels, groups, k, partial);
  }
  return static_cast<int>(cudaGetLastError());
}

#define GEO3D_INSTANTIATE(T)                                                                  \
  template int point_nn_aggregate<T>(const T*, const T*, const int64_t*, const int64_t*,      \
                                     const T*, const T*, const T*, T, int64_t, int64_t,       \
                                     int64_t, int64_t, int64_t, T*, void*);                   \
  template int group_moments<T>(const T*, const T*, const int64_t*, const int64_t*, int64_t,  \
                                int64_t, int64_t, int64_t, int64_t, double*, void*);
GEO3D_INSTANTIATE(float)
GEO3D_INSTANTIATE(double)
#undef GEO3D_INSTANTIATE

}  // namespace cuda
}  // namespace geo3d
