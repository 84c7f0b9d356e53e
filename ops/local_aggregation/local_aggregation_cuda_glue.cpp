// Torch-facing glue of the CUDA local aggregation (built only where torch has CUDA): the
// CPU kernels' shape checks, index ranges from min/max reductions, then the launch.
#include <torch/library.h>

#include "../common/cuda_glue.h"
#include "../common/cuda_launch.h"
#include "local_aggregation_checks.h"

namespace geo3d {
namespace {

GroupShape check_cuda_groups(const at::Tensor& xyz, const at::Tensor& feats,
                             const at::Tensor& centres, const at::Tensor& neighbours) {
  const GroupShape s = check_groups(xyz, feats, centres, neighbours);
  check_cuda(xyz, "xyz");
  for (const at::Tensor* t : {&centres, &neighbours}) {
    if (t->numel() == 0) continue;
    const int64_t low = t->min().item<int64_t>(), high = t->max().item<int64_t>();
    TORCH_CHECK(low >= 0 && high < s.points, "geo3d: '", t == &centres ? "centres" : "neighbours",
                "' has indices outside [0, ", s.points, ")");
  }
  return s;
}

at::Tensor group_moments_cuda(const at::Tensor& xyz, const at::Tensor& feats,
                              const at::Tensor& centres, const at::Tensor& neighbours) {
  const GroupShape s = check_cuda_groups(xyz, feats, centres, neighbours);
  const c10::cuda::CUDAGuard guard(xyz.device());
  at::Tensor partial = at::zeros({s.batch, s.groups, 4}, xyz.options().dtype(at::kDouble));
  AT_DISPATCH_FLOATING_TYPES(xyz.scalar_type(), "group_moments_cuda", [&] {
    check_launch(cuda::group_moments<scalar_t>(
                     xyz.data_ptr<scalar_t>(), feats.data_ptr<scalar_t>(),
                     centres.data_ptr<int64_t>(), neighbours.data_ptr<int64_t>(), s.batch,
                     s.points, s.channels, s.groups, s.k, partial.data_ptr<double>(),
                     current_stream(xyz)),
                 "group_moments");
  });
  return partial.sum(1);
}

at::Tensor point_nn_aggregate_cuda(const at::Tensor& xyz, const at::Tensor& feats,
                                   const at::Tensor& centres, const at::Tensor& neighbours,
                                   const at::Tensor& feat_scale, const at::Tensor& xyz_scale,
                                   const at::Tensor& denominators, double beta) {
  const GroupShape s = check_cuda_groups(xyz, feats, centres, neighbours);
  check_aggregate_scales(s, xyz, feat_scale, xyz_scale, denominators);
  const c10::cuda::CUDAGuard guard(xyz.device());
  at::Tensor out = at::empty({s.batch, s.groups, 2 * s.channels}, feats.options());
  AT_DISPATCH_FLOATING_TYPES(xyz.scalar_type(), "point_nn_aggregate_cuda", [&] {
    check_launch(cuda::point_nn_aggregate<scalar_t>(
                     xyz.data_ptr<scalar_t>(), feats.data_ptr<scalar_t>(),
                     centres.data_ptr<int64_t>(), neighbours.data_ptr<int64_t>(),
                     feat_scale.data_ptr<scalar_t>(), xyz_scale.data_ptr<scalar_t>(),
                     denominators.data_ptr<scalar_t>(), static_cast<scalar_t>(beta), s.batch,
                     s.points, s.channels, s.groups, s.k, out.data_ptr<scalar_t>(),
                     current_stream(xyz)),
                 "point_nn_aggregate");
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) {
  m.impl("group_moments", &group_moments_cuda);
  m.impl("point_nn_aggregate", &point_nn_aggregate_cuda);
}

}  // namespace geo3d
