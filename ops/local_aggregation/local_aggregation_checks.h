// Shape and dtype checks of the local-aggregation ops, shared by the CPU kernels and the
// CUDA glue (each checks index ranges its own way before touching memory).
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace geo3d {

struct GroupShape {
  int64_t batch, points, channels, groups, k;
};

inline GroupShape check_groups(const at::Tensor& xyz, const at::Tensor& feats,
                               const at::Tensor& centres, const at::Tensor& neighbours) {
  TORCH_CHECK(xyz.dim() == 3 && xyz.size(2) == 3, "geo3d: expected 'xyz' of shape (B, N, 3), got ",
              xyz.sizes());
  TORCH_CHECK(feats.dim() == 3 && feats.size(0) == xyz.size(0) && feats.size(1) == xyz.size(1),
              "geo3d: expected 'feats' of shape (", xyz.size(0), ", ", xyz.size(1), ", C), got ",
              feats.sizes());
  TORCH_CHECK(xyz.scalar_type() == feats.scalar_type() &&
                  (xyz.scalar_type() == at::kFloat || xyz.scalar_type() == at::kDouble),
              "geo3d: 'xyz' and 'feats' must both be float32 or both float64");
  TORCH_CHECK(centres.dim() == 2 && centres.size(0) == xyz.size(0),
              "geo3d: expected 'centres' of shape (", xyz.size(0), ", G), got ", centres.sizes());
  const GroupShape s{xyz.size(0), xyz.size(1), feats.size(2), centres.size(1),
                     neighbours.dim() == 3 ? neighbours.size(2) : 0};
  TORCH_CHECK(neighbours.dim() == 3 && neighbours.size(0) == s.batch &&
                  neighbours.size(1) == s.groups && s.k >= 1,
              "geo3d: expected 'neighbours' of shape (", s.batch, ", ", s.groups, ", K >= 1), got ",
              neighbours.sizes());
  TORCH_CHECK(centres.scalar_type() == at::kLong && neighbours.scalar_type() == at::kLong,
              "geo3d: 'centres' and 'neighbours' must be int64");
  for (const at::Tensor* t : {&xyz, &feats, &centres, &neighbours}) {
    TORCH_CHECK(t->is_contiguous(), "geo3d: the inputs must be contiguous");
    TORCH_CHECK(t->device() == xyz.device(), "geo3d: the inputs must be on one device");
  }
  return s;
}

inline void check_aggregate_scales(const GroupShape& s, const at::Tensor& xyz,
                                   const at::Tensor& feat_scale, const at::Tensor& xyz_scale,
                                   const at::Tensor& denominators) {
  TORCH_CHECK(s.channels >= 3 && (2 * s.channels) % 6 == 0,
              "geo3d: 'feats' needs C channels with 2C a multiple of 6, got C = ", s.channels);
  for (const at::Tensor* t : {&feat_scale, &xyz_scale}) {
    TORCH_CHECK(t->dim() == 1 && t->size(0) == s.batch && t->scalar_type() == xyz.scalar_type() &&
                    t->is_contiguous() && t->device() == xyz.device(),
                "geo3d: 'feat_scale' and 'xyz_scale' must be (", s.batch, ",) tensors of the "
                "points' dtype and device");
  }
  const int64_t freq = 2 * s.channels / 6;
  TORCH_CHECK(denominators.dim() == 1 && denominators.size(0) == freq &&
                  denominators.scalar_type() == xyz.scalar_type() &&
                  denominators.is_contiguous() && denominators.device() == xyz.device(),
              "geo3d: 'denominators' must be (", freq, ",) of the points' dtype and device");
}

}  // namespace geo3d
