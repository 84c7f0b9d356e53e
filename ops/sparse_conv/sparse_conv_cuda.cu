// The sparse convolution rulebook on the GPU: the active input coordinates go into an
// open-addressing hash table (atomicCAS on 64-bit keys, linear probing, the CPU kernel's
// hash), then one thread per (output, kernel offset) looks its input up.
//
// The active outputs of a strided convolution: one thread per (input, kernel offset) sets
// the bit of the output it reaches in a bitmap over the batch's output grids; popcounts per
// 64-bit word, their prefix sum (the torch glue) and one thread per word emit the outputs in
// key order, so they come sorted without a sort, as on the CPU. Grids too large for a bitmap
// go through candidate keys, a sort and a unique in the glue, and a decode kernel.
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

struct OutputGrid {
  int64_t cells[3];
};

OutputGrid output_grid(const int64_t* cells) { return {{cells[0], cells[1], cells[2]}}; }

__global__ void mark_outputs_kernel(const int32_t* __restrict__ coords, int64_t n,
                                    ConvGeometry g, OutputGrid grid,
                                    unsigned long long* __restrict__ bits) {
  const int64_t volume = g.volume();
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= n * volume) return;
  const int64_t key = g.output_key(coords + 4 * (t / volume), t % volume, grid.cells);
  if (key >= 0) atomicOr(bits + (key >> 6), 1ull << (key & 63));
}

__global__ void count_outputs_kernel(const unsigned long long* __restrict__ bits, int64_t words,
                                     int64_t* __restrict__ counts) {
  const int64_t w = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (w < words) counts[w] = __popcll(bits[w]);
}

__global__ void emit_outputs_kernel(const unsigned long long* __restrict__ bits, int64_t words,
                                    const int64_t* __restrict__ offsets, OutputGrid grid,
                                    int32_t* __restrict__ out) {
  const int64_t w = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (w >= words) return;
  unsigned long long value = bits[w];
  int64_t o = offsets[w];
  while (value) {
    const int bit = __ffsll(static_cast<long long>(value)) - 1;
    decode_output_key(w * 64 + bit, grid.cells, out + 4 * o);
    ++o;
    value &= value - 1;
  }
}

__global__ void candidate_keys_kernel(const int32_t* __restrict__ coords, int64_t n,
                                      ConvGeometry g, OutputGrid grid,
                                      int64_t* __restrict__ keys) {
  const int64_t volume = g.volume();
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t < n * volume) keys[t] = g.output_key(coords + 4 * (t / volume), t % volume, grid.cells);
}

__global__ void decode_keys_kernel(const int64_t* __restrict__ keys, int64_t m, OutputGrid grid,
                                   int32_t* __restrict__ out) {
  const int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (o < m) decode_output_key(keys[o], grid.cells, out + 4 * o);
}

unsigned blocks_of(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
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

int sparse_conv_mark_outputs(const int32_t* coords, int64_t n, const ConvGeometry& geometry,
                             const int64_t* out_cells, uint64_t* bits, void* stream) {
  const int64_t total = n * geometry.volume();
  if (total > 0) {
    mark_outputs_kernel<<<blocks_of(total, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
        coords, n, geometry, output_grid(out_cells), reinterpret_cast<unsigned long long*>(bits));
  }
  return static_cast<int>(cudaGetLastError());
}

int sparse_conv_count_outputs(const uint64_t* bits, int64_t words, int64_t* counts,
                              void* stream) {
  if (words > 0) {
    count_outputs_kernel<<<blocks_of(words, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
        reinterpret_cast<const unsigned long long*>(bits), words, counts);
  }
  return static_cast<int>(cudaGetLastError());
}

int sparse_conv_emit_outputs(const uint64_t* bits, int64_t words, const int64_t* offsets,
                             const int64_t* out_cells, int32_t* out, void* stream) {
  if (words > 0) {
    emit_outputs_kernel<<<blocks_of(words, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
        reinterpret_cast<const unsigned long long*>(bits), words, offsets,
        output_grid(out_cells), out);
  }
  return static_cast<int>(cudaGetLastError());
}

int sparse_conv_candidate_keys(const int32_t* coords, int64_t n, const ConvGeometry& geometry,
                               const int64_t* out_cells, int64_t* keys, void* stream) {
  const int64_t total = n * geometry.volume();
  if (total > 0) {
    candidate_keys_kernel<<<blocks_of(total, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
        coords, n, geometry, output_grid(out_cells), keys);
  }
  return static_cast<int>(cudaGetLastError());
}

int sparse_conv_decode_keys(const int64_t* keys, int64_t m, const int64_t* out_cells,
                            int32_t* out, void* stream) {
  if (m > 0) {
    decode_keys_kernel<<<blocks_of(m, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
        keys, m, output_grid(out_cells), out);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace cuda
}  // namespace geo3d
