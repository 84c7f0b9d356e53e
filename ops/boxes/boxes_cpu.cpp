// Rotated 3D box ops on the CPU: pairwise BEV / 3D IoU, rotated NMS and the first box
// holding each point. The geometry is ops/boxes/box_geometry.h (shared with CUDA); the
// references and the rules are in geo3d/ops/boxes.py.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "box_checks.h"
#include "box_geometry.h"

namespace geo3d {
namespace {

at::Tensor box_iou_cpu(const at::Tensor& a, const at::Tensor& b, bool three_d) {
  check_box_pair(a, b);
  TORCH_CHECK(a.device().is_cpu(), "geo3d: box_iou on the CPU needs CPU tensors");
  const int64_t n = a.size(0), m = b.size(0);
  at::Tensor out = at::empty({n, m}, a.options());
  if (n == 0 || m == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "box_iou_cpu", [&] {
    const scalar_t* pa = a.data_ptr<scalar_t>();
    const scalar_t* pb = b.data_ptr<scalar_t>();
    scalar_t* po = out.data_ptr<scalar_t>();
    at::parallel_for(0, n, std::max<int64_t>(1, 4096 / std::max<int64_t>(m, 1)),
                     [&](int64_t begin, int64_t end) {
                       for (int64_t i = begin; i < end; ++i) {
                         for (int64_t j = 0; j < m; ++j) {
                           po[i * m + j] = static_cast<scalar_t>(
                               boxes::box_iou(pa + 7 * i, pb + 7 * j, three_d));
                         }
                       }
                     });
  });
  return out;
}

// Greedy rotated NMS (OpenPCDet's nms_gpu rule): boxes in descending score order (ties
// to the lower index), a box suppressed when its BEV IoU with a kept box exceeds the
// threshold; with labels, only boxes of the same label suppress each other.
at::Tensor nms_bev_cpu(const at::Tensor& boxes, const at::Tensor& scores,
                       const at::Tensor& labels, double iou_threshold, int64_t pre_max,
                       int64_t post_max) {
  check_nms_inputs(boxes, scores, labels, iou_threshold, pre_max, post_max);
  TORCH_CHECK(boxes.device().is_cpu(), "geo3d: nms_bev on the CPU needs CPU tensors");
  const int64_t n = boxes.size(0);
  const bool by_label = labels.numel() > 0;
  const at::Tensor score = scores.to(at::kDouble).contiguous();
  const double* s = score.data_ptr<double>();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return s[i] > s[j]; });
  if (pre_max >= 0 && pre_max < n) order.resize(pre_max);
  const at::Tensor lab = by_label ? labels.contiguous() : labels;
  const int64_t* lp = by_label ? lab.data_ptr<int64_t>() : nullptr;
  std::vector<int64_t> kept;
  std::vector<uint8_t> suppressed(order.size(), 0);
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "nms_bev_cpu", [&] {
    const scalar_t* pb = boxes.data_ptr<scalar_t>();
    const int64_t count = static_cast<int64_t>(order.size());
    for (int64_t r = 0; r < count; ++r) {
      if (suppressed[r]) continue;
      const int64_t i = order[r];
      kept.push_back(i);
      if (post_max >= 0 && static_cast<int64_t>(kept.size()) >= post_max) break;
      at::parallel_for(r + 1, count, 512, [&](int64_t begin, int64_t end) {
        for (int64_t q = begin; q < end; ++q) {
          if (suppressed[q]) continue;
          const int64_t j = order[q];
          if (lp != nullptr && lp[i] != lp[j]) continue;
          if (boxes::box_iou(pb + 7 * i, pb + 7 * j, false) > iou_threshold) suppressed[q] = 1;
        }
      });
    }
  });
  at::Tensor out = at::empty({static_cast<int64_t>(kept.size())}, boxes.options().dtype(at::kLong));
  std::copy(kept.begin(), kept.end(), out.data_ptr<int64_t>());
  return out;
}

at::Tensor points_in_boxes_cpu(const at::Tensor& points, const at::Tensor& boxes) {
  check_points_in_boxes_inputs(points, boxes);
  TORCH_CHECK(points.device().is_cpu(), "geo3d: points_in_boxes on the CPU needs CPU tensors");
  const int64_t n = points.size(0), m = boxes.size(0), stride = points.size(1);
  at::Tensor out = at::full({n}, -1, points.options().dtype(at::kLong));
  if (n == 0 || m == 0) return out;
  int64_t* po = out.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "points_in_boxes_cpu", [&] {
    using point_t = scalar_t;
    const point_t* pp = points.data_ptr<point_t>();
    AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "points_in_boxes_cpu_boxes", [&] {
      const scalar_t* pb = boxes.data_ptr<scalar_t>();
      // A point far from a box's centre (beyond its circumscribed sphere) skips the test.
      std::vector<double> radius2(m);
      for (int64_t k = 0; k < m; ++k) {
        const double r2 = (static_cast<double>(pb[7 * k + 3]) * pb[7 * k + 3] +
                           static_cast<double>(pb[7 * k + 4]) * pb[7 * k + 4] +
                           static_cast<double>(pb[7 * k + 5]) * pb[7 * k + 5]) / 4;
        radius2[k] = r2 * (1 + 1e-9) + 1e-12;
      }
      at::parallel_for(0, n, 2048, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const point_t* p = pp + i * stride;
          for (int64_t k = 0; k < m; ++k) {
            const scalar_t* box = pb + 7 * k;
            const double dx = static_cast<double>(p[0]) - box[0];
            const double dy = static_cast<double>(p[1]) - box[1];
            const double dz = static_cast<double>(p[2]) - box[2];
            if (dx * dx + dy * dy + dz * dz > radius2[k]) continue;
            if (boxes::point_in_box(p, box)) {
              po[i] = k;
              break;
            }
          }
        }
      });
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) {
  m.impl("box_iou", &box_iou_cpu);
  m.impl("nms_bev", &nms_bev_cpu);
  m.impl("points_in_boxes", &points_in_boxes_cpu);
}

}  // namespace geo3d
