// Where each cloud of a batch lies in a point tensor, for the two batch layouts the
// neighbour and sampling kernels accept:
//   padded: (B, N, 3), cloud b at rows [b * N, b * N + lengths[b]);
//   packed: (P, 3), cloud b at rows [ptr[b], ptr[b + 1]) (no padding; P = ptr[B]).
// The same arithmetic runs on the CPU and in the CUDA kernels (plain C++ with host/device
// qualifiers under nvcc), so the CPU tests cover the offsets the GPU computes.
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define GEO3D_LAYOUT_HOST_DEVICE __host__ __device__
#else
#define GEO3D_LAYOUT_HOST_DEVICE
#endif

namespace geo3d {

struct CloudLayout {
  const int64_t* lengths = nullptr;  // padded: (B,) real sizes, or null for full rows
  const int64_t* ptr = nullptr;      // packed: (B + 1,) offsets; null when padded
  int64_t stride = 0;                // padded: rows per cloud (N)

  static CloudLayout padded(const int64_t* lengths, int64_t stride) {
    return CloudLayout{lengths, nullptr, stride};
  }
  static CloudLayout packed(const int64_t* ptr) { return CloudLayout{nullptr, ptr, 0}; }

  GEO3D_LAYOUT_HOST_DEVICE bool is_packed() const { return ptr != nullptr; }

  // The first row of cloud b.
  GEO3D_LAYOUT_HOST_DEVICE int64_t begin(int64_t b) const {
    return ptr != nullptr ? ptr[b] : b * stride;
  }

  // The number of rows of cloud b (a padded length is clamped to the row stride).
  GEO3D_LAYOUT_HOST_DEVICE int64_t size(int64_t b) const {
    if (ptr != nullptr) return ptr[b + 1] - ptr[b];
    if (lengths == nullptr) return stride;
    return lengths[b] < stride ? lengths[b] : stride;
  }

  // What an index local to cloud b becomes in the output: packed outputs index the
  // packed tensor (usable with plain indexing), padded ones stay local to the cloud.
  GEO3D_LAYOUT_HOST_DEVICE int64_t index_base(int64_t b) const {
    return ptr != nullptr ? ptr[b] : 0;
  }
};

}  // namespace geo3d
