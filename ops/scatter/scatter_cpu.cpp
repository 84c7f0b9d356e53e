// Segment reductions on the CPU, deterministic and without atomics: rows are visited in
// input order by the thread owning their segment, so max/min pick the lowest row on ties
// and sums add in the same order on every run, whatever the thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
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

// Reduction of the rows whose segment lies in [s0, s1) into their segment's output.
// `peak` is scratch of the output's shape (soft only); `lse` holds the sum of weights
// until the end.
template <typename T>
void reduce_rows(Reduce mode, const T* src, const int64_t* idx, int64_t n, int64_t channels,
                 int64_t s0, int64_t s1, const int64_t* counts, T* out,
                 int64_t* arg, T* lse, T* peak) {
  const T inf = std::numeric_limits<T>::infinity();
  for (int64_t s = s0; s < s1; ++s) {
    for (int64_t c = 0; c < channels; ++c) {
      out[s * channels + c] = mode == Reduce::kMax ? -inf : (mode == Reduce::kMin ? inf : T(0));
      if (arg) arg[s * channels + c] = -1;
      if (peak) peak[s * channels + c] = -inf;
      if (lse) lse[s * channels + c] = T(0);
    }
  }
  if (mode == Reduce::kMax || mode == Reduce::kMin) {
    const bool is_max = mode == Reduce::kMax;
    for (int64_t i = 0; i < n; ++i) {
      if (idx[i] < s0 || idx[i] >= s1) continue;
      const T* row = src + i * channels;
      T* o = out + idx[i] * channels;
      int64_t* a = arg + idx[i] * channels;
      for (int64_t c = 0; c < channels; ++c) {
        // NaN propagates (torch.amax's rule): the first NaN row wins and nothing replaces it.
        const bool held_nan = o[c] != o[c];
        const bool better = a[c] < 0 ||
                            (!held_nan && (row[c] != row[c] || (is_max ? row[c] > o[c] : row[c] < o[c])));
        o[c] = better ? row[c] : o[c];
        a[c] = better ? i : a[c];
      }
    }
  } else if (mode == Reduce::kSoft) {
    for (int64_t i = 0; i < n; ++i) {  // pass 1: the segment maximum per channel
      if (idx[i] < s0 || idx[i] >= s1) continue;
      const T* row = src + i * channels;
      T* m = peak + idx[i] * channels;
      // NaN sticks: once the peak is NaN, no comparison replaces it.
      for (int64_t c = 0; c < channels; ++c) m[c] = (row[c] > m[c] || row[c] != row[c]) && m[c] == m[c] ? row[c] : m[c];
    }
    for (int64_t i = 0; i < n; ++i) {  // pass 2: sum of weights (in lse) and weighted sum
      if (idx[i] < s0 || idx[i] >= s1) continue;
      const T* row = src + i * channels;
      const T* m = peak + idx[i] * channels;
      T* total = lse + idx[i] * channels;
      T* weighted = out + idx[i] * channels;
      for (int64_t c = 0; c < channels; ++c) {
        if (!std::isfinite(m[c])) continue;  // NaN or infinite peak: settled below
        const T w = std::exp(row[c] - m[c]);
        total[c] += w;
        weighted[c] += w == T(0) ? T(0) : w * row[c];  // a -inf member weighs 0, not 0 * -inf
      }
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      if (idx[i] < s0 || idx[i] >= s1) continue;
      const T* row = src + i * channels;
      T* o = out + idx[i] * channels;
      for (int64_t c = 0; c < channels; ++c) o[c] += row[c];
    }
  }
  for (int64_t s = s0; s < s1; ++s) {
    for (int64_t c = 0; c < channels; ++c) {
      T& o = out[s * channels + c];
      if (counts[s] == 0) {
        o = T(0);
      } else if (mode == Reduce::kMean) {
        o /= static_cast<T>(counts[s]);
      } else if (mode == Reduce::kSoft) {
        T& total = lse[s * channels + c];
        const T m = peak[s * channels + c];
        if (!std::isfinite(m)) {  // NaN propagates; all -inf gives -inf; a +inf member gives +inf
          o = m;
          total = m;
        } else {
          o /= total;  // total >= 1: the maximum contributes exp(0)
          total = m + std::log(total);
        }
      }
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

  // Segment sizes; the range check comes before any write indexed by it.
  std::vector<int64_t> counts(num_segments, 0);
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(idx[i] >= 0 && idx[i] < num_segments, "geo3d: 'index'[", i, "] = ", idx[i],
                " is outside [0, ", num_segments, ")");
    ++counts[idx[i]];
  }

  at::Tensor out = at::empty({num_segments, channels}, src.options());
  const bool has_arg = mode == Reduce::kMax || mode == Reduce::kMin;
  at::Tensor arg = has_arg ? at::empty({num_segments, channels}, index.options())
                           : at::empty({0}, index.options());
  at::Tensor lse = mode == Reduce::kSoft ? at::empty({num_segments, channels}, src.options())
                                         : at::empty({0}, src.options());
  // Each thread owns a range of segments holding about n / threads rows, reads the index
  // in order and reduces only its own rows: every row is read whole by one thread, the
  // outputs are disjoint, and rows meet their segment in input order. Measured faster
  // than sorting rows into segments (random row reads miss the cache) and than splitting
  // channels among threads.
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), num_segments));
  std::vector<int64_t> bounds{0};
  int64_t seen = 0;
  for (int64_t seg = 0; seg < num_segments && static_cast<int64_t>(bounds.size()) < parts; ++seg) {
    seen += counts[seg];
    if (seen * parts >= n * static_cast<int64_t>(bounds.size())) bounds.push_back(seg + 1);
  }
  if (bounds.back() != num_segments) bounds.push_back(num_segments);
  AT_DISPATCH_FLOATING_TYPES(src.scalar_type(), "scatter_cpu", [&] {
    const scalar_t* s = src.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    int64_t* a = has_arg ? arg.data_ptr<int64_t>() : nullptr;
    scalar_t* l = mode == Reduce::kSoft ? lse.data_ptr<scalar_t>() : nullptr;
    at::Tensor peak = mode == Reduce::kSoft ? at::empty_like(out) : at::Tensor();
    scalar_t* p = mode == Reduce::kSoft ? peak.data_ptr<scalar_t>() : nullptr;
    at::parallel_for(0, static_cast<int64_t>(bounds.size()) - 1, 1, [&](int64_t begin, int64_t end) {
      for (int64_t part = begin; part < end; ++part) {
        reduce_rows(mode, s, idx, n, channels, bounds[part], bounds[part + 1], counts.data(), o,
                    a, l, p);
      }
    });
  });
  return {out, arg, lse};
}

// d out_s / d src_i = w_i (1 + a_i - out_s), w_i = exp(a_i - lse_s): one pass over rows.
at::Tensor scatter_soft_backward_cpu(const at::Tensor& grad_out, const at::Tensor& src,
                                     const at::Tensor& index, const at::Tensor& out,
                                     const at::Tensor& lse) {
  TORCH_CHECK(src.dim() == 2 && src.is_contiguous(), "geo3d: 'src' must be a contiguous (N, C) tensor");
  const int64_t n = src.size(0), channels = src.size(1);
  TORCH_CHECK(grad_out.dim() == 2 && grad_out.size(1) == channels && grad_out.is_contiguous(),
              "geo3d: 'grad_out' must be a contiguous (S, C) tensor");
  const int64_t num_segments = grad_out.size(0);
  for (const at::Tensor* t : {&out, &lse}) {
    TORCH_CHECK(t->sizes() == grad_out.sizes() && t->is_contiguous(),
                "geo3d: 'out' and 'lse' must be contiguous and shaped like 'grad_out'");
  }
  for (const at::Tensor* t : {&grad_out, &out, &lse}) {
    TORCH_CHECK(t->scalar_type() == src.scalar_type(), "geo3d: dtypes differ in scatter_soft_backward");
  }
  TORCH_CHECK(src.scalar_type() == at::kFloat || src.scalar_type() == at::kDouble,
              "geo3d: 'src' must be float32 or float64");
  TORCH_CHECK(index.dim() == 1 && index.size(0) == n && index.scalar_type() == at::kLong &&
                  index.is_contiguous(),
              "geo3d: 'index' must be a contiguous int64 tensor with one entry per row");
  const int64_t* idx = index.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(idx[i] >= 0 && idx[i] < num_segments, "geo3d: 'index'[", i, "] = ", idx[i],
                " is outside [0, ", num_segments, ")");
  }
  at::Tensor grad_src = at::empty_like(src);
  AT_DISPATCH_FLOATING_TYPES(src.scalar_type(), "scatter_soft_backward_cpu", [&] {
    const scalar_t* a = src.data_ptr<scalar_t>();
    const scalar_t* g = grad_out.data_ptr<scalar_t>();
    const scalar_t* y = out.data_ptr<scalar_t>();
    const scalar_t* l = lse.data_ptr<scalar_t>();
    scalar_t* da = grad_src.data_ptr<scalar_t>();
    const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, channels));
    at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t seg = idx[i] * channels;
        for (int64_t c = 0; c < channels; ++c) {
          const scalar_t v = a[i * channels + c];
          const scalar_t lse_s = l[seg + c];
          // A segment whose log-sum-exp is not finite (NaN, all -inf, or a +inf member)
          // passes no gradient; a -inf member has weight 0 (not 0 * inf).
          const scalar_t w = std::isfinite(lse_s) ? std::exp(v - lse_s) : scalar_t(0);
          da[i * channels + c] = w == scalar_t(0) ? scalar_t(0) : w * g[seg + c] * (scalar_t(1) + (v - y[seg + c]));
        }
      }
    });
  });
  return grad_src;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) {
  m.impl("scatter", &scatter_cpu);
  m.impl("scatter_soft_backward", &scatter_soft_backward_cpu);
}

}  // namespace geo3d
