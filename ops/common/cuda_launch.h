// Plain C++ declarations of the CUDA launchers: no torch headers, so that the .cu files
// compile with `nvcc -c` on any machine with the CUDA toolkit, and the torch glue
// (ops/*/*_cuda_glue.cpp, built only where torch has CUDA) includes this header alone.
// Every launcher takes raw device pointers, sizes and a stream, and returns the
// cudaError_t of its launch as an int (0 = success).
#pragma once

#include <cstdint>

#include "cloud_layout.h"
#include "../set_partition/set_partition_geometry.h"
#include "../soft_pool/soft_pool_window.h"
#include "../sparse_conv/sparse_conv_geometry.h"

namespace geo3d {
namespace cuda {

// Layouts (cloud_layout.h) hold device pointers: padded (B, N, 3) with lengths, or packed
// (P, 3) with ptr. FPS: cloud b's min(samples.size(b), points.size(b)) samples go to rows
// samples.begin(b)... of out (prefilled with -1), as indices of the points' layout;
// start (B,) local; scratch one value per point row.
template <typename T>
int farthest_point_sample(const T* xyz, const CloudLayout& points, const CloudLayout& samples,
                          const int64_t* start, int64_t batch, int64_t* out, T* scratch,
                          void* stream);

// kNN: query rows by query_layout, support rows by support_layout; max_queries the largest
// query cloud; dist (rows, k) prefilled with inf, idx with -1.
template <typename T>
int knn(const T* query, const T* support, const CloudLayout& query_layout,
        const CloudLayout& support_layout, int64_t batch, int64_t max_queries, int64_t k,
        T* dist, int64_t* idx, void* stream);

// idx (B, Q, max_neighbors) prefilled with -1.
template <typename T>
int ball_query(const T* query, const T* support, const int64_t* query_lengths,
               const int64_t* support_lengths, int64_t batch, int64_t num_queries, int64_t n,
               T radius2, int64_t max_neighbors, int64_t* idx, void* stream);

// points (N, C); coords (N, 3) int32 (z, y, x), -1 rows outside.
template <typename T>
int dynamic_voxelize(const T* points, int64_t n, int64_t channels, const double* voxel_size,
                     const double* low, const int64_t* cells, int32_t* coords, void* stream);

// Box ops (boxes (M, 7) as x, y, z, dx, dy, dz, heading). box_iou: out (N, M).
template <typename T>
int box_iou(const T* a, const T* b, int64_t n, int64_t m, bool three_d, T* out, void* stream);

// sorted (K, 7) boxes in descending score order, labels (K,) or null; mask (K, ceil(K / 64)).
template <typename T>
int nms_mask(const T* sorted, const int64_t* labels, int64_t k, double threshold, uint64_t* mask,
             void* stream);

// points (N, stride), x y z first; out (N,) the first box holding each point or -1.
template <typename P, typename T>
int points_in_boxes(const P* points, int64_t n, int64_t stride, const T* boxes, int64_t m,
                    int64_t* out, void* stream);

// SoftPool on (planes, *spatial) grids; dtype: 0 float32, 1 float64, 2 float16, 3 bfloat16.
// lse is float64 for float64 input, else float32.
enum class SoftPoolDtype : int { kFloat = 0, kDouble = 1, kHalf = 2, kBFloat16 = 3 };
int soft_pool_forward(SoftPoolDtype dtype, const void* x, int64_t planes,
                      const soft_pool::Geometry& geometry, void* out, void* lse, void* stream);
int soft_pool_backward(SoftPoolDtype dtype, const void* grad_out, const void* x, const void* out,
                       const void* lse, int64_t planes, const soft_pool::Geometry& geometry,
                       void* grad_x, void* stream);

// Sparse convolution rulebook. in_coords (N, 4), out_coords (M, 4) int32 (batch, z, y, x);
// table_keys (capacity,) int64 prefilled with -1, table_values (capacity,) int32, capacity
// a power of two >= 2 N; duplicate (1,) int32 prefilled with -1 (gets a repeated row);
// neighbors (M, K) int64.
int sparse_conv_neighbors(const int32_t* in_coords, int64_t n, const int32_t* out_coords,
                          int64_t m, const ConvGeometry& geometry, int64_t* table_keys,
                          int32_t* table_values, int64_t capacity, int32_t* duplicate,
                          int64_t* neighbors, void* stream);

// Sparse convolution outputs. Bitmap path: bits (words,) uint64 zeroed, over the batch's
// output grids (out_cells (z, y, x)); mark sets the bit of every output an input reaches,
// count writes each word's popcount into counts (words,) int64, emit writes the outputs of
// word w at offsets[w] (the exclusive prefix sum of counts) as (batch, z, y, x) rows into
// out (M, 4) int32. Key path (grids too large for a bitmap): candidate_keys writes the
// output key of every (input, offset) pair or -1 into keys (N, K) int64; decode turns sorted
// unique keys into rows.
int sparse_conv_mark_outputs(const int32_t* coords, int64_t n, const ConvGeometry& geometry,
                             const int64_t* out_cells, uint64_t* bits, void* stream);
int sparse_conv_count_outputs(const uint64_t* bits, int64_t words, int64_t* counts,
                              void* stream);
int sparse_conv_emit_outputs(const uint64_t* bits, int64_t words, const int64_t* offsets,
                             const int64_t* out_cells, int32_t* out, void* stream);
int sparse_conv_candidate_keys(const int32_t* coords, int64_t n, const ConvGeometry& geometry,
                               const int64_t* out_cells, int64_t* keys, void* stream);
int sparse_conv_decode_keys(const int64_t* keys, int64_t m, const int64_t* out_cells,
                            int32_t* out, void* stream);

// DSVT set partition. keys: local (N, 3) int32 in-window (z, y, x), by_y and by_x (N,) int64
// sort keys, outside (1,) int32 prefilled with INT32_MAX (gets the first row off the grid).
// starts: on the sorted by-y keys, starts (N,) int32 1 where a window begins, repeated (1,)
// int32 prefilled with INT32_MAX (gets the first sorted position equal to its predecessor).
// fill: order_y/order_x (N,) the sorted rows, window_start (W + 1,) and first_set (W + 1,)
// int64 with sentinels; sets_y/sets_x (S, set_size) int64.
int set_partition_keys(const int32_t* coords, int64_t n, const WindowGeometry& geometry,
                       int32_t* local, int64_t* by_y, int64_t* by_x, int32_t* outside,
                       void* stream);
int set_partition_starts(const int64_t* sorted, int64_t n, int64_t volume, int32_t* starts,
                         int32_t* repeated, void* stream);
int set_partition_fill(const int64_t* order_y, const int64_t* order_x,
                       const int64_t* window_start, const int64_t* first_set, int64_t windows,
                       int64_t set_size, int64_t sets, int64_t* sets_y, int64_t* sets_x,
                       void* stream);

// Point-NN's fused local aggregation (ops/local_aggregation). xyz (B, N, 3), feats (B, N, C),
// centres (B, G), neighbours (B, G, K) int64 in range; feat_scale, xyz_scale (B,),
// denominators (2C / 6,); out (B, G, 2C). group_moments: partial (B * G, 4) float64 sums
// per group (feature sum, sum of squares, coordinate sum, sum of squares).
template <typename T>
int point_nn_aggregate(const T* xyz, const T* feats, const int64_t* centres,
                       const int64_t* neighbours, const T* feat_scale, const T* xyz_scale,
                       const T* denominators, T beta, int64_t batch, int64_t points,
                       int64_t channels, int64_t groups, int64_t k, T* out, void* stream);
template <typename T>
int group_moments(const T* xyz, const T* feats, const int64_t* centres,
                  const int64_t* neighbours, int64_t batch, int64_t points, int64_t channels,
                  int64_t groups, int64_t k, double* partial, void* stream);

}  // namespace cuda
}  // namespace geo3d
