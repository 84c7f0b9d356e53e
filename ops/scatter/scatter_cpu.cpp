// Segment reductions on the CPU. A stable counting sort turns the index into segments
// (CSR), so every segment is reduced by one thread, rows in input order, with no atomics:
// results are deterministic and max/min pick the lowest row on ties.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "../common/checks.h"

namespace geo3d {
namespace {

enum class Reduce { kSum, kMean, kMax, kMin, kSoft };

Reduce parse_reduce(const std::string& reduce) {
  if (reduce == "sum") return Reduce::kSum;
  if (reduce == "mean") return Reduce::kMean;
  if (reduce == "max") return Reduce::kMax;
  if (reduce == "min") return Reduce::kMin;
  if (reduce == "soft") return Reduce::kSoft;
  TORCH_CHECK(false, "geo3d: 'reduce' must be sum, mean, max, min or soft, got '", reduce, "'");
}

template <typename T>
void reduce_segment(Reduce mode, const T* src, int64_t channels, const int64_t* rows,
                    int64_t count, T* out, int64_t* arg, T* lse, T* scratch) {
  if (count == 0) {  // empty segment: 0 (arg -1, lse 0)
    for (int64_t c = 0; c < channels; ++c) out[c] = T(0);
    if (arg) for (int64_t c = 0; c < channels; ++c) arg[c] = -1;
    if (lse) for (int64_t c = 0; c < channels; ++c) lse[c] = T(0);
    return;
  }
  switch (mode) {
    case Reduce::kSum:
    case Reduce::kMean: {
      for (int64_t c = 0; c < channels; ++c) out[c] = T(0);
      for (int64_t r = 0; r < count; ++r) {
        const T* row = src + rows[r] * channels;
        for (int64_t c = 0; c < channels; ++c) out[c] += row[c];
      }
      if (mode == Reduce::kMean) {
        for (int64_t c = 0; c < channels; ++c) out[c] /= static_cast<T>(count);
      }
      return;
    }
    case Reduce::kMax:
    case Reduce::kMin: {
      const bool is_max = mode == Reduce::kMax;
      const T* first = src + rows[0] * channels;
      for (int64_t c = 0; c < channels; ++c) {
        out[c] = first[c];
        arg[c] = rows[0];
      }
      for (int64_t r = 1; r < count; ++r) {
        const T* row = src + rows[r] * channels;
        for (int64_t c = 0; c < channels; ++c) {
          // Strict comparison keeps the earliest (lowest) row among ties.
          if (is_max ? row[c] > out[c] : row[c] < out[c]) {
            out[c] = row[c];
            arg[c] = rows[r];
          }
        }
      }
      return;
    }
    case Reduce::kSoft: {
      // y = sum_i exp(a_i - m) a_i / sum_i exp(a_i - m), m the segment maximum.
      T* peak = scratch;  // 3 * channels values owned by the calling thread
      T* total = scratch + channels;
      T* weighted = scratch + 2 * channels;
      const T* first = src + rows[0] * channels;
      for (int64_t c = 0; c < channels; ++c) {
        peak[c] = first[c];
        total[c] = T(0);
        weighted[c] = T(0);
      }
      for (int64_t r = 1; r < count; ++r) {
        const T* row = src + rows[r] * channels;
        for (int64_t c = 0; c < channels; ++c) peak[c] = row[c] > peak[c] ? row[c] : peak[c];
      }
      for (int64_t r = 0; r < count; ++r) {
        const T* row = src + rows[r] * channels;
        for (int64_t c = 0; c < channels; ++c) {
          const T w = std::exp(row[c] - peak[c]);
          total[c] += w;
          weighted[c] += w * row[c];
        }
      }
      for (int64_t c = 0; c < channels; ++c) {
        out[c] = weighted[c] / total[c];  // total >= 1: the maximum contributes exp(0)
        lse[c] = peak[c] + std::log(total[c]);
      }
      return;
    }
  }
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> scatter_cpu(const at::Tensor& src,
                                                           const at::Tensor& index,
                                                           int64_t num_segments,
                                                           c10::string_view reduce_name) {
  const Reduce mode = parse_reduce(std::string(reduce_name));
  TORCH_CHECK(src.dim() == 2, "geo3d: expected 'src' of shape (N, C), got ", src.sizes());
  TORCH_CHECK(src.scalar_type() == at::kFloat || src.scalar_type() == at::kDouble,
              "geo3d: 'src' must be float32 or float64");
  TORCH_CHECK(src.is_contiguous() && index.is_contiguous(), "geo3d: 'src' and 'index' must be contiguous");
  TORCH_CHECK(index.dim() == 1 && index.size(0) == src.size(0),
              "geo3d: 'index' must have one entry per row of 'src'");
  TORCH_CHECK(index.scalar_type() == at::kLong, "geo3d: 'index' must be int64");
  TORCH_CHECK(num_segments >= 0, "geo3d: 'num_segments' must be non-negative");
  const int64_t n = src.size(0), channels = src.size(1);
  const int64_t* idx = index.data_ptr<int64_t>();

  // Stable counting sort of rows by segment (the range check comes before any write).
  std::vector<int64_t> offsets(num_segments + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(idx[i] >= 0 && idx[i] < num_segments, "geo3d: 'index'[", i, "] = ", idx[i],
                " is outside [0, ", num_segments, ")");
    ++offsets[idx[i] + 1];
  }
  for (int64_t s = 0; s < num_segments; ++s) offsets[s + 1] += offsets[s];
  std::vector<int64_t> rows(n), cursor(offsets.begin(), offsets.end() - 1);
  for (int64_t i = 0; i < n; ++i) rows[cursor[idx[i]]++] = i;

  at::Tensor out = at::empty({num_segments, channels}, src.options());
  const bool has_arg = mode == Reduce::kMax || mode == Reduce::kMin;
  at::Tensor arg = has_arg ? at::empty({num_segments, channels}, index.options())
                           : at::empty({0}, index.options());
  at::Tensor lse = mode == Reduce::kSoft ? at::empty({num_segments, channels}, src.options())
                                         : at::empty({0}, src.options());
  AT_DISPATCH_FLOATING_TYPES(src.scalar_type(), "scatter_cpu", [&] {
    const scalar_t* s = src.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    int64_t* a = has_arg ? arg.data_ptr<int64_t>() : nullptr;
    scalar_t* l = mode == Reduce::kSoft ? lse.data_ptr<scalar_t>() : nullptr;
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, channels));
    at::parallel_for(0, num_segments, grain, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> scratch(mode == Reduce::kSoft ? 3 * channels : 0);
      for (int64_t seg = begin; seg < end; ++seg) {
        reduce_segment(mode, s, channels, rows.data() + offsets[seg],
                       offsets[seg + 1] - offsets[seg], o + seg * channels,
                       a ? a + seg * channels : nullptr, l ? l + seg * channels : nullptr,
                       scratch.data());
      }
    });
  });
  return {out, arg, lse};
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) { m.impl("scatter", &scatter_cpu); }

}  // namespace geo3d
