// KITTI's per-frame matching statistics (the official kitti_object_eval_python
// compute_statistics_jit, summed over frames as fused_compute_statistics does), for every
// score threshold at once. The rules, and the plain-torch reference this must equal, are in
// geo3d/ops/kitti_statistics.py; the metric around it is geo3d/metrics/kitti.py.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

namespace geo3d {
namespace {

constexpr double kNoDetection = -10000000.0;

struct FrameCounts {
  int64_t tp = 0, fp = 0, fn = 0;
  double similarity = 0.0;
};

struct Packed {
  const double* overlaps;
  const int64_t* overlap_ptr;
  const int64_t* gt_ptr;
  const int64_t* dt_ptr;
  const int64_t* ignored_gt;
  const int64_t* ignored_dt;
  const double* scores;
  const double* gt_alpha;
  const double* dt_alpha;
  const double* dontcare;
  const int64_t* dontcare_ptr;
};

// One frame at one threshold; `tp_scores` (when not null) receives the true positives'
// scores (the first pass, without false positives).
FrameCounts frame_statistics(const Packed& p, int64_t frame, double min_overlap,
                             double threshold, bool compute_fp, bool compute_aos,
                             std::vector<char>& assigned, std::vector<double>* tp_scores,
                             int64_t& dontcare_offset) {
  const int64_t g0 = p.gt_ptr[frame], num_gt = p.gt_ptr[frame + 1] - g0;
  const int64_t d0 = p.dt_ptr[frame], num_dt = p.dt_ptr[frame + 1] - d0;
  const int64_t num_dc = p.dontcare_ptr[frame + 1] - p.dontcare_ptr[frame];
  const double* overlaps = p.overlaps + p.overlap_ptr[frame];  // (num_dt, num_gt)
  const int64_t* ig_gt = p.ignored_gt + g0;
  const int64_t* ig_dt = p.ignored_dt + d0;
  const double* scores = p.scores + d0;
  assigned.assign(num_dt, 0);
  auto below = [&](int64_t j) { return compute_fp && scores[j] < threshold; };
  FrameCounts counts;
  double similarity_sum = 0.0;
  for (int64_t i = 0; i < num_gt; ++i) {
    if (ig_gt[i] == -1) continue;
    int64_t det = -1;
    double valid = kNoDetection, max_overlap = 0.0;
    bool assigned_ignored = false;
    for (int64_t j = 0; j < num_dt; ++j) {
      if (ig_dt[j] == -1 || assigned[j] || below(j)) continue;
      const double overlap = overlaps[j * num_gt + i];
      if (!compute_fp && overlap > min_overlap && scores[j] > valid) {
        det = j;
        valid = scores[j];
      } else if (compute_fp && overlap > min_overlap &&
                 (overlap > max_overlap || assigned_ignored) && ig_dt[j] == 0) {
        max_overlap = overlap;
        det = j;
        valid = 1.0;
        assigned_ignored = false;
      } else if (compute_fp && overlap > min_overlap && valid == kNoDetection &&
                 ig_dt[j] == 1) {
        det = j;
        valid = 1.0;
        assigned_ignored = true;
      }
    }
    if (valid == kNoDetection && ig_gt[i] == 0) {
      ++counts.fn;
    } else if (valid != kNoDetection && (ig_gt[i] == 1 || ig_dt[det] == 1)) {
      assigned[det] = 1;
    } else if (valid != kNoDetection) {
      ++counts.tp;
      if (tp_scores) tp_scores->push_back(scores[det]);
      if (compute_aos) {
        similarity_sum += (1.0 + std::cos(p.gt_alpha[g0 + i] - p.dt_alpha[d0 + det])) / 2.0;
      }
      assigned[det] = 1;
    }
  }
  if (compute_fp) {
    for (int64_t j = 0; j < num_dt; ++j) {
      if (!(assigned[j] || ig_dt[j] == -1 || ig_dt[j] == 1 || below(j))) ++counts.fp;
    }
    const double* dontcare = p.dontcare + dontcare_offset;  // (num_dt, num_dc)
    int64_t absorbed = 0;
    for (int64_t i = 0; i < num_dc; ++i) {
      for (int64_t j = 0; j < num_dt; ++j) {
        if (assigned[j] || ig_dt[j] == -1 || ig_dt[j] == 1 || below(j)) continue;
        if (dontcare[j * num_dc + i] > min_overlap) {
          assigned[j] = 1;
          ++absorbed;
        }
      }
    }
    counts.fp -= absorbed;
    if (compute_aos) {
      counts.similarity = (counts.tp > 0 || counts.fp > 0) ? similarity_sum : -1.0;
    }
  }
  dontcare_offset += num_dt * num_dc;
  return counts;
}

void check_inputs(const std::vector<std::pair<const char*, const at::Tensor*>>& tensors,
                  at::ScalarType dtype) {
  for (const auto& [name, tensor] : tensors) {
    TORCH_CHECK(tensor->device().is_cpu(), "geo3d: kitti_statistics needs CPU tensors ('",
                name, "')");
    TORCH_CHECK(tensor->scalar_type() == dtype, "geo3d: kitti_statistics '", name,
                "' must be ", dtype, " (got ", tensor->scalar_type(), ")");
    TORCH_CHECK(tensor->dim() == 1 && tensor->is_contiguous(), "geo3d: kitti_statistics '",
                name, "' must be a contiguous 1D tensor");
  }
}

std::tuple<at::Tensor, at::Tensor> kitti_statistics_cpu(
    const at::Tensor& overlaps, const at::Tensor& overlap_ptr, const at::Tensor& gt_ptr,
    const at::Tensor& dt_ptr, const at::Tensor& ignored_gt, const at::Tensor& ignored_dt,
    const at::Tensor& scores, const at::Tensor& gt_alpha, const at::Tensor& dt_alpha,
    const at::Tensor& dontcare, const at::Tensor& dontcare_ptr, const at::Tensor& thresholds,
    double min_overlap, bool compute_fp, bool compute_aos) {
  check_inputs({{"overlaps", &overlaps},
                {"scores", &scores},
                {"gt_alpha", &gt_alpha},
                {"dt_alpha", &dt_alpha},
                {"dontcare", &dontcare},
                {"thresholds", &thresholds}},
               at::kDouble);
  check_inputs({{"overlap_ptr", &overlap_ptr},
                {"gt_ptr", &gt_ptr},
                {"dt_ptr", &dt_ptr},
                {"ignored_gt", &ignored_gt},
                {"ignored_dt", &ignored_dt},
                {"dontcare_ptr", &dontcare_ptr}},
               at::kLong);
  const int64_t frames = gt_ptr.numel() - 1;
  TORCH_CHECK(frames >= 0 && dt_ptr.numel() == frames + 1 &&
                  overlap_ptr.numel() == frames + 1 && dontcare_ptr.numel() == frames + 1,
              "geo3d: kitti_statistics needs gt_ptr, dt_ptr, overlap_ptr and dontcare_ptr of "
              "one length (frames + 1)");
  const int64_t* gp = gt_ptr.data_ptr<int64_t>();
  const int64_t* dp = dt_ptr.data_ptr<int64_t>();
  const int64_t* op = overlap_ptr.data_ptr<int64_t>();
  const int64_t* cp = dontcare_ptr.data_ptr<int64_t>();
  TORCH_CHECK(gp[0] == 0 && dp[0] == 0 && op[0] == 0 && cp[0] == 0,
              "geo3d: kitti_statistics offsets must start at 0");
  int64_t dontcare_size = 0;
  for (int64_t f = 0; f < frames; ++f) {
    const int64_t num_gt = gp[f + 1] - gp[f], num_dt = dp[f + 1] - dp[f];
    const int64_t num_dc = cp[f + 1] - cp[f];
    TORCH_CHECK(num_gt >= 0 && num_dt >= 0 && num_dc >= 0,
                "geo3d: kitti_statistics offsets must not decrease (frame ", f, ")");
    TORCH_CHECK(op[f + 1] - op[f] == num_gt * num_dt, "geo3d: kitti_statistics frame ", f,
                " has ", op[f + 1] - op[f], " overlaps for ", num_dt, " detections x ", num_gt,
                " ground-truth boxes");
    dontcare_size += num_dt * num_dc;
  }
  TORCH_CHECK(overlaps.numel() == op[frames], "geo3d: kitti_statistics 'overlaps' has ",
              overlaps.numel(), " values, the offsets say ", op[frames]);
  TORCH_CHECK(ignored_gt.numel() == gp[frames] && gt_alpha.numel() == gp[frames],
              "geo3d: kitti_statistics 'ignored_gt' and 'gt_alpha' need one value per "
              "ground-truth box (",
              gp[frames], ")");
  TORCH_CHECK(ignored_dt.numel() == dp[frames] && scores.numel() == dp[frames] &&
                  dt_alpha.numel() == dp[frames],
              "geo3d: kitti_statistics 'ignored_dt', 'scores' and 'dt_alpha' need one value "
              "per detection (",
              dp[frames], ")");
  TORCH_CHECK(dontcare.numel() == dontcare_size, "geo3d: kitti_statistics 'dontcare' has ",
              dontcare.numel(), " overlaps, the frames need ", dontcare_size);
  const Packed packed{overlaps.data_ptr<double>(),   op,
                      gp,
                      dp,
                      ignored_gt.data_ptr<int64_t>(), ignored_dt.data_ptr<int64_t>(),
                      scores.data_ptr<double>(),     gt_alpha.data_ptr<double>(),
                      dt_alpha.data_ptr<double>(),   dontcare.data_ptr<double>(),
                      cp};
  if (!compute_fp) {
    std::vector<double> tp_scores;
    std::vector<char> assigned;
    int64_t dontcare_offset = 0;
    for (int64_t f = 0; f < frames; ++f) {
      frame_statistics(packed, f, min_overlap, 0.0, false, false, assigned, &tp_scores,
                       dontcare_offset);
    }
    at::Tensor out = at::empty({static_cast<int64_t>(tp_scores.size())}, scores.options());
    std::copy(tp_scores.begin(), tp_scores.end(), out.data_ptr<double>());
    return {at::zeros({0, 4}, scores.options()), out};
  }
  const int64_t num_thresholds = thresholds.numel();
  at::Tensor counts = at::zeros({num_thresholds, 4}, scores.options());
  const double* tp = thresholds.data_ptr<double>();
  double* out = counts.data_ptr<double>();
  at::parallel_for(0, num_thresholds, 1, [&](int64_t begin, int64_t end) {
    std::vector<char> assigned;
    for (int64_t t = begin; t < end; ++t) {
      int64_t dontcare_offset = 0;
      for (int64_t f = 0; f < frames; ++f) {
        const FrameCounts c = frame_statistics(packed, f, min_overlap, tp[t], true,
                                               compute_aos, assigned, nullptr, dontcare_offset);
        out[4 * t] += c.tp;
        out[4 * t + 1] += c.fp;
        out[4 * t + 2] += c.fn;
        // the official fused_compute_statistics skips a frame's -1 (neither tp nor fp)
        if (c.similarity != -1.0) out[4 * t + 3] += c.similarity;
      }
    }
  });
  return {counts, at::empty({0}, scores.options())};
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) { m.impl("kitti_statistics", &kitti_statistics_cpu); }

}  // namespace geo3d
