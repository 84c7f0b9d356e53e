// Rotated box ops on the GPU, in plain CUDA C++ (raw pointers and a stream): pairwise IoU
// (one thread per pair), the NMS overlap mask (one thread per box of a 64-box column tile,
// one bit per overlapping later box, OpenPCDet's nms_gpu layout) and the first box holding
// each point (one thread per point). The geometry is box_geometry.h, shared with the CPU.
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/cuda_launch.h"
#include "box_geometry.h"

namespace geo3d {
namespace cuda {
namespace {

constexpr int kTile = 16;
constexpr int kMaskBits = 64;

template <typename T>
__global__ void box_iou_kernel(const T* __restrict__ a, const T* __restrict__ b, int64_t n,
                               int64_t m, bool three_d, T* __restrict__ out) {
  const int64_t i = blockIdx.y * static_cast<int64_t>(kTile) + threadIdx.y;
  const int64_t j = blockIdx.x * static_cast<int64_t>(kTile) + threadIdx.x;
  if (i < n && j < m) out[i * m + j] = static_cast<T>(boxes::box_iou(a + 7 * i, b + 7 * j, three_d));
}

// sorted (K, 7): boxes in descending score order; mask (K, ceil(K / 64)): bit c of word
// [r, w] set when box 64 w + c comes after r, shares its label and overlaps it above the
// threshold.
template <typename T>
__global__ void nms_mask_kernel(const T* __restrict__ sorted, const int64_t* __restrict__ labels,
                                int64_t k, double threshold, uint64_t* __restrict__ mask) {
  const int64_t words = (k + kMaskBits - 1) / kMaskBits;
  const int64_t row_block = blockIdx.y, col_block = blockIdx.x;
  const int64_t r = row_block * kMaskBits + threadIdx.x;
  if (r >= k) return;
  uint64_t bits = 0;
  const int64_t start = col_block * kMaskBits;
  for (int c = 0; c < kMaskBits; ++c) {
    const int64_t q = start + c;
    if (q >= k) break;
    if (q <= r) continue;
    if (labels != nullptr && labels[q] != labels[r]) continue;
    if (boxes::box_iou(sorted + 7 * r, sorted + 7 * q, false) > threshold) bits |= 1ULL << c;
  }
  mask[r * words + col_block] = bits;
}

template <typename P, typename T>
__global__ void points_in_boxes_kernel(const P* __restrict__ points, int64_t n, int64_t stride,
                                       const T* __restrict__ box_data, int64_t m,
                                       int64_t* __restrict__ out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const P* p = points + i * stride;
  int64_t found = -1;
  for (int64_t k = 0; k < m; ++k) {
    if (boxes::point_in_box(p, box_data + 7 * k)) {
      found = k;
      break;
    }
  }
  out[i] = found;
}

}  // namespace

template <typename T>
int box_iou(const T* a, const T* b, int64_t n, int64_t m, bool three_d, T* out, void* stream) {
  if (n == 0 || m == 0) return 0;
  const dim3 block(kTile, kTile);
  const dim3 grid(static_cast<unsigned>((m + kTile - 1) / kTile),
                  static_cast<unsigned>((n + kTile - 1) / kTile));
  box_iou_kernel<T><<<grid, block, 0, static_cast<cudaStream_t>(stream)>>>(a, b, n, m, three_d, out);
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int nms_mask(const T* sorted, const int64_t* labels, int64_t k, double threshold, uint64_t* mask,
             void* stream) {
  if (k == 0) return 0;
  const int64_t words = (k + kMaskBits - 1) / kMaskBits;
  const dim3 grid(static_cast<unsigned>(words), static_cast<unsigned>(words));
  nms_mask_kernel<T><<<grid, kMaskBits, 0, static_cast<cudaStream_t>(stream)>>>(
      sorted, labels, k, threshold, mask);
  return static_cast<int>(cudaGetLastError());
}

template <typename P, typename T>
int points_in_boxes(const P* points, int64_t n, int64_t stride, const T* boxes, int64_t m,
                    int64_t* out, void* stream) {
  if (n == 0) return 0;
  constexpr int threads = 256;
  const unsigned blocks = static_cast<unsigned>((n + threads - 1) / threads);
  points_in_boxes_kernel<P, T><<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(
      points, n, stride, boxes, m, out);
  return static_cast<int>(cudaGetLastError());
}

template int box_iou<float>(const float*, const float*, int64_t, int64_t, bool, float*, void*);
template int box_iou<double>(const double*, const double*, int64_t, int64_t, bool, double*,
                             void*);
template int nms_mask<float>(const float*, const int64_t*, int64_t, double, uint64_t*, void*);
template int nms_mask<double>(const double*, const int64_t*, int64_t, double, uint64_t*, void*);
template int points_in_boxes<float, float>(const float*, int64_t, int64_t, const float*, int64_t,
                                           int64_t*, void*);
template int points_in_boxes<float, double>(const float*, int64_t, int64_t, const double*,
                                            int64_t, int64_t*, void*);
template int points_in_boxes<double, float>(const double*, int64_t, int64_t, const float*,
                                            int64_t, int64_t*, void*);
template int points_in_boxes<double, double>(const double*, int64_t, int64_t, const double*,
                                             int64_t, int64_t*, void*);

}  // namespace cuda
}  // namespace geo3d
