// Torch-facing glue of the CUDA box ops (built only where torch has CUDA). NMS sorts the
// scores on the GPU, builds the overlap bit mask there, and walks it greedily on the host
// (K rows of ceil(K / 64) words), as OpenPCDet's nms_gpu does.
#include <torch/library.h>

#include <vector>

#include "../common/cuda_glue.h"
#include "../common/cuda_launch.h"
#include "box_checks.h"

namespace geo3d {
namespace {

at::Tensor box_iou_cuda(const at::Tensor& a, const at::Tensor& b, bool three_d) {
  check_box_pair(a, b);
  check_cuda(a, "a");
  const c10::cuda::CUDAGuard guard(a.device());
  at::Tensor out = at::empty({a.size(0), b.size(0)}, a.options());
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "box_iou_cuda", [&] {
    check_launch(cuda::box_iou<scalar_t>(a.data_ptr<scalar_t>(), b.data_ptr<scalar_t>(),
                                         a.size(0), b.size(0), three_d,
                                         out.data_ptr<scalar_t>(), current_stream(a)),
                 "box_iou");
  });
  return out;
}

at::Tensor nms_bev_cuda(const at::Tensor& boxes, const at::Tensor& scores,
                        const at::Tensor& labels, double iou_threshold, int64_t pre_max,
                        int64_t post_max) {
  check_nms_inputs(boxes, scores, labels, iou_threshold, pre_max, post_max);
  check_cuda(boxes, "boxes");
  const c10::cuda::CUDAGuard guard(boxes.device());
  at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  if (pre_max >= 0 && pre_max < order.size(0)) order = order.slice(0, 0, pre_max);
  const int64_t k = order.size(0);
  at::Tensor sorted = boxes.index_select(0, order).contiguous();
  at::Tensor sorted_labels;
  if (labels.numel() > 0) sorted_labels = labels.index_select(0, order).contiguous();
  const int64_t words = (k + 63) / 64;
  at::Tensor mask = at::empty({k, words}, boxes.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "nms_bev_cuda", [&] {
    check_launch(cuda::nms_mask<scalar_t>(
                     sorted.data_ptr<scalar_t>(),
                     labels.numel() > 0 ? sorted_labels.data_ptr<int64_t>() : nullptr, k,
                     iou_threshold, reinterpret_cast<uint64_t*>(mask.data_ptr<int64_t>()),
                     current_stream(boxes)),
                 "nms_bev");
  });
  const at::Tensor host_mask = mask.cpu();
  const uint64_t* bits = reinterpret_cast<const uint64_t*>(host_mask.data_ptr<int64_t>());
  std::vector<uint64_t> removed(words, 0);
  std::vector<int64_t> kept_rows;
  for (int64_t r = 0; r < k; ++r) {
    if (removed[r / 64] >> (r % 64) & 1ULL) continue;
    kept_rows.push_back(r);
    if (post_max >= 0 && static_cast<int64_t>(kept_rows.size()) >= post_max) break;
    for (int64_t w = 0; w < words; ++w) removed[w] |= bits[r * words + w];
  }
  at::Tensor rows = at::empty({static_cast<int64_t>(kept_rows.size())}, at::kLong);
  std::copy(kept_rows.begin(), kept_rows.end(), rows.data_ptr<int64_t>());
  return order.index_select(0, rows.to(order.device()));
}

at::Tensor points_in_boxes_cuda(const at::Tensor& points, const at::Tensor& boxes) {
  check_points_in_boxes_inputs(points, boxes);
  check_cuda(points, "points");
  const c10::cuda::CUDAGuard guard(points.device());
  at::Tensor out = at::empty({points.size(0)}, points.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "points_in_boxes_cuda", [&] {
    using point_t = scalar_t;
    AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "points_in_boxes_cuda_boxes", [&] {
      check_launch(cuda::points_in_boxes<point_t, scalar_t>(
                       points.data_ptr<point_t>(), points.size(0), points.size(1),
                       boxes.data_ptr<scalar_t>(), boxes.size(0), out.data_ptr<int64_t>(),
                       current_stream(points)),
                   "points_in_boxes");
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) {
  m.impl("box_iou", &box_iou_cuda);
  m.impl("nms_bev", &nms_bev_cuda);
  m.impl("points_in_boxes", &points_in_boxes_cuda);
}

}  // namespace geo3d
