// The sparse convolution rulebook on the GPU: the active input coordinates go into an
// open-addressing hash table (atomicCAS on 64-bit keys, linear probing, the CPU kernel's
// hash), then one thread per (output, kernel offset) looks its input up.
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/cuda_launch.h"

namespace geo3d {
namespace cuda {
namespace {

constexpr unsigned long long kEmpty = 0xFFFFFFFFFFFFFFFFull;  // -1 as int64

__device__ inline int64_t first_slot(int64_t key, int64_t mask) {
  const unsigned long long h = static_cast<unsigned long long>(key) * 0x9E3779B97F4A7C15ull;
  return static_cast<int64_t>(h >> 20) & mask;
}

__global__ void insert_kernel(const int32_t* __restrict__ coords, int64_t n, ConvGeometry g,
                              unsigned long long* __restrict__ keys, int32_t* __restrict__ values,
                              int64_t mask, int32_t* __restrict__ duplicate) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const unsigned long long key = static_cast<unsigned long long>(g.key(coords + 4 * i));
  int64_t slot = first_slot(static_cast<int64_t>(key), mask);
  while (true) {
    const unsigned long long previous = atomicCAS(keys + slot, kEmpty, key);
    if (previous == kEmpty) {
      values[slot] = static_cast<int32_t>(i);
      return;
    }
    if (previous == key) {
      atomicExch(duplicate, static_cast<int32_t>(i));
      return;
    }
    slot = (slot + 1) & mask;
  }
}

__global__ void lookup_kernel(const int32_t* __restrict__ out_coords, int64_t m, ConvGeometry g,
                              const unsigned long long* __restrict__ keys,
                              const int32_t* __restrict__ values, int64_t mask,
                              int64_t* __restrict__ neighbors) {
  const int64_t volume = g.volume();
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= m * volume) return;
  const int64_t o = t / volume, k = t % volume;
  const int32_t* c = out_coords + 4 * o;
  int64_t position[3];
  int64_t found = -1;
  if (g.input_of(c, k, position)) {
    const unsigned long long key = static_cast<unsigned long long>(g.key(c[0], position));
    int64_t slot = first_slot(static_cast<int64_t>(key), mask);
    while (true) {
      const unsigned long long stored = keys[slot];
      if (stored == key) {
        found = values[slot];
        break;
      }
      if (stored == kEmpty) break;
      slot = (slot + 1) & mask;
    }
  }
  neighbors[t] = found;
}

}  // namespace

int sparse_conv_neighbors(const int32_t* in_coords, int64_t n, const int32_t* out_coords,
                          int64_t m, const ConvGeometry& geometry, int64_t* table_keys,
                          int32_t* table_values, int64_t capacity, int32_t* duplicate,
                          int64_t* neighbors, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int threads = 256;
  auto* keys = reinterpret_cast<unsigned long long*>(table_keys);
  if (n > 0) {
    insert_kernel<<<static_cast<unsigned>((n + threads - 1) / threads), threads, 0, s>>>(
        in_coords, n, geometry, keys, table_values, capacity - 1, duplicate);
  }
  const int64_t total = m * geometry.volume();
  if (total > 0) {
    lookup_kernel<<<static_cast<unsigned>((total + threads - 1) / threads), threads, 0, s>>>(
        out_coords, m, geometry, keys, table_values, capacity - 1, neighbors);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace cuda
}  // namespace geo3d
