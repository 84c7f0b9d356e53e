// Input checks of the box ops, shared by the CPU kernels and the CUDA glue so that both
// devices refuse the same inputs with the same messages.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace geo3d {

inline void check_boxes_tensor(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.dim() == 2 && t.size(1) == 7, "geo3d: expected '", name,
              "' of shape (M, 7) as (x, y, z, dx, dy, dz, heading), got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, "geo3d: '",
              name, "' must be float32 or float64, got ", t.scalar_type());
  TORCH_CHECK(t.is_contiguous(), "geo3d: '", name, "' must be contiguous");
  TORCH_CHECK(t.numel() == 0 || at::isfinite(t).all().item<bool>(), "geo3d: '", name,
              "' has NaN or inf values");
  TORCH_CHECK(t.numel() == 0 || (t.slice(1, 3, 6) >= 0).all().item<bool>(), "geo3d: '", name,
              "' has negative sizes (dx, dy, dz)");
}

inline void check_box_pair(const at::Tensor& a, const at::Tensor& b) {
  check_boxes_tensor(a, "a");
  check_boxes_tensor(b, "b");
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "geo3d: 'a' and 'b' must share a dtype (got ",
              a.scalar_type(), " and ", b.scalar_type(), ")");
  TORCH_CHECK(a.device() == b.device(), "geo3d: 'a' is on ", a.device(), " but 'b' is on ",
              b.device());
}

inline void check_nms_inputs(const at::Tensor& boxes, const at::Tensor& scores,
                             const at::Tensor& labels, double iou_threshold, int64_t pre_max,
                             int64_t post_max) {
  check_boxes_tensor(boxes, "boxes");
  const int64_t n = boxes.size(0);
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == n && scores.device() == boxes.device(),
              "geo3d: expected 'scores' of shape (", n, ") on the boxes' device, got ",
              scores.sizes());
  TORCH_CHECK(scores.is_floating_point(), "geo3d: 'scores' must be floating point");
  TORCH_CHECK(n == 0 || at::isfinite(scores).all().item<bool>(), "geo3d: 'scores' has NaN or inf");
  if (labels.numel() > 0) {
    TORCH_CHECK(labels.dim() == 1 && labels.size(0) == n && labels.scalar_type() == at::kLong &&
                    labels.device() == boxes.device(),
                "geo3d: expected int64 'labels' of shape (", n,
                ") on the boxes' device (or empty), got ", labels.sizes());
  }
  TORCH_CHECK(std::isfinite(iou_threshold), "geo3d: 'iou_threshold' must be finite");
  TORCH_CHECK(pre_max >= -1 && post_max >= -1,
              "geo3d: 'pre_max' and 'post_max' must be -1 (no limit) or non-negative");
}

inline void check_points_in_boxes_inputs(const at::Tensor& points, const at::Tensor& boxes) {
  check_boxes_tensor(boxes, "boxes");
  TORCH_CHECK(points.dim() == 2 && points.size(1) >= 3,
              "geo3d: expected 'points' of shape (N, 3+), got ", points.sizes());
  TORCH_CHECK(points.scalar_type() == at::kFloat || points.scalar_type() == at::kDouble,
              "geo3d: 'points' must be float32 or float64");
  TORCH_CHECK(points.is_contiguous(), "geo3d: 'points' must be contiguous");
  TORCH_CHECK(points.device() == boxes.device(), "geo3d: 'points' is on ", points.device(),
              " but 'boxes' is on ", boxes.device());
}

}  // namespace geo3d
