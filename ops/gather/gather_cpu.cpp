// Gathering per-point features by index (forward) and summing gradients back (backward).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>

#include "../common/checks.h"

namespace geo3d {
namespace {

void check_index(const at::Tensor& idx, int64_t batch, int64_t num_points) {
  TORCH_CHECK(idx.dim() == 2 && idx.size(0) == batch, "geo3d: expected 'idx' of shape (",
              batch, ", M), got ", idx.sizes());
  TORCH_CHECK(idx.scalar_type() == at::kLong, "geo3d: 'idx' must be int64");
  TORCH_CHECK(idx.is_contiguous(), "geo3d: 'idx' must be contiguous");
  const int64_t* data = idx.data_ptr<int64_t>();
  const int64_t count = idx.numel();
  bool ok = true;
  for (int64_t i = 0; i < count; ++i) ok &= (data[i] >= -1) & (data[i] < num_points);
  TORCH_CHECK(ok, "geo3d: 'idx' has values outside [-1, ", num_points, ")");
}

at::Tensor gather_points_cpu(const at::Tensor& feats, const at::Tensor& idx) {
  TORCH_CHECK(feats.dim() == 3, "geo3d: expected 'feats' of shape (B, N, C), got ", feats.sizes());
  TORCH_CHECK(feats.is_contiguous(), "geo3d: 'feats' must be contiguous");
  const int64_t batch = feats.size(0), n = feats.size(1), channels = feats.size(2);
  check_index(idx, batch, n);
  const int64_t m = idx.size(1);
  at::Tensor out = at::empty({batch, m, channels}, feats.options());
  const int64_t* index = idx.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, feats.scalar_type(), "gather_points_cpu", [&] {
    const scalar_t* src = feats.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(channels, 1));
    at::parallel_for(0, batch * m, grain, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t b = row / m;
        const int64_t i = index[row];
        scalar_t* to = dst + row * channels;
        if (i < 0) {
          std::fill(to, to + channels, scalar_t(0));
        } else {
          std::memcpy(to, src + (b * n + i) * channels, channels * sizeof(scalar_t));
        }
      }
    });
  });
  return out;
}

at::Tensor gather_points_backward_cpu(const at::Tensor& grad, const at::Tensor& idx,
                                      int64_t num_points) {
  TORCH_CHECK(grad.dim() == 3, "geo3d: expected 'grad' of shape (B, M, C), got ", grad.sizes());
  TORCH_CHECK(grad.is_contiguous(), "geo3d: 'grad' must be contiguous");
  TORCH_CHECK(num_points >= 0, "geo3d: 'num_points' must be non-negative");
  const int64_t batch = grad.size(0), m = grad.size(1), channels = grad.size(2);
  check_index(idx, batch, num_points);
  TORCH_CHECK(idx.size(1) == m, "geo3d: 'idx' and 'grad' disagree on M");
  at::Tensor out = at::zeros({batch, num_points, channels}, grad.options());
  const int64_t* index = idx.data_ptr<int64_t>();
  // Parallel over (cloud, channel block): each task owns disjoint output memory.
  const int64_t block = 64;
  const int64_t blocks = (channels + block - 1) / block;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "gather_points_backward_cpu", [&] {
    const scalar_t* g = grad.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    at::parallel_for(0, batch * blocks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t b = task / blocks;
        const int64_t c0 = (task % blocks) * block;
        const int64_t c1 = std::min(channels, c0 + block);
        for (int64_t j = 0; j < m; ++j) {
          const int64_t i = index[b * m + j];
          if (i < 0) continue;
          const scalar_t* from = g + (b * m + j) * channels;
          scalar_t* to = dst + (b * num_points + i) * channels;
          for (int64_t c = c0; c < c1; ++c) to[c] += from[c];
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) {
  m.impl("gather_points", &gather_points_cpu);
  m.impl("gather_points_backward", &gather_points_backward_cpu);
}

}  // namespace geo3d
