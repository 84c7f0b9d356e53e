// SoftPool's forward on the CPU a row of outputs at a time (the window arithmetic of
// soft_pool_window.h, vectorized): each output row's windows are copied into one buffer
// (padding slots -inf, weight 0), every slot minus its window's maximum goes through one
// branch-free exp loop that GCC vectorizes, then per window the two sums. Windows whose
// maximum is NaN or +-inf, and empty ones, follow window_forward's rules exactly.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "soft_pool_window.h"

namespace geo3d {
namespace soft_pool {

// exp of float32 values <= 0 (or -inf): Cephes' expf reduction and polynomial, the power
// of two built from its bits; below -87.3 (where expf is denormal or 0) it gives 0.
// GCC if-converts the float compares (and so vectorizes the loop) only without trapping math;
// the loop raises no floating-point exception that anything reads.
#if defined(__GNUC__) && !defined(__clang__)
#define GEO3D_VECTORIZE_COMPARES __attribute__((optimize("no-trapping-math")))
#else
#define GEO3D_VECTORIZE_COMPARES
#endif

GEO3D_VECTORIZE_COMPARES
inline void exp_block(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  constexpr float kLog2e = 1.44269504088896341f, kRound = 12582912.0f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] > -87.0f ? x[i] : -87.0f;
    const float q = (v * kLog2e + kRound) - kRound;
    const float r = (v - q * kLn2Hi) - q * kLn2Lo;
    const float p = ((((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                        4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f) *
                     r * r) + r + 1.0f;
    union {
      int32_t bits;
      float value;
    } scale;
    scale.bits = (static_cast<int32_t>(q) + 127) << 23;
    const float keep = x[i] >= -87.0f ? 1.0f : 0.0f;
    y[i] = p * scale.value * keep;
  }
}

inline void exp_block(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

// The input extent [lo, hi) of output position o along axis a.
inline void window_extent(const Geometry& g, int a, int64_t o, int64_t* lo, int64_t* hi) {
  const int64_t start = o * g.stride[a] - g.pad[a];
  *lo = start < 0 ? 0 : start;
  *hi = start + g.kernel[a] > g.in[a] ? g.in[a] : start + g.kernel[a];
}

template <typename acc_t>
struct RowWork {
  std::vector<acc_t> values, peaks, exps, special;
  std::vector<int8_t> kind;  // 0 normal, 1 empty, 2 non-finite maximum (kept in special)
};

// Output row (od, oh) of one input plane: out[ow], lse[ow] for every ow.
template <typename scalar_t, typename acc_t>
void row_forward(const scalar_t* plane, const Geometry& g, int64_t od, int64_t oh,
                 scalar_t* out, acc_t* lse, RowWork<acc_t>& work) {
  const int64_t width = g.out[2], volume = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t slots = width * volume;
  work.values.resize(slots);
  work.peaks.resize(slots);
  work.exps.resize(slots);
  work.kind.resize(width);
  work.special.resize(width);
  acc_t* values = work.values.data();
  acc_t* peaks = work.peaks.data();
  const acc_t minus_inf = -std::numeric_limits<acc_t>::infinity();
  int64_t lo[2], hi[2];
  window_extent(g, 0, od, &lo[0], &hi[0]);
  window_extent(g, 1, oh, &lo[1], &hi[1]);
  for (int64_t ow = 0; ow < width; ++ow) {
    int64_t wlo, whi;
    window_extent(g, 2, ow, &wlo, &whi);
    acc_t* slot = values + ow * volume;
    int64_t t = 0;
    bool any = false;
    acc_t peak = 0;
    for (int64_t d = lo[0]; d < hi[0]; ++d)
      for (int64_t h = lo[1]; h < hi[1]; ++h) {
        const scalar_t* row = plane + (d * g.in[1] + h) * g.in[2];
        for (int64_t w = wlo; w < whi; ++w) {
          const acc_t v = static_cast<acc_t>(row[w]);
          if (!any || ((v > peak || v != v) && peak == peak)) peak = v;  // NaN sticks
          any = true;
          slot[t++] = v;
        }
      }
    for (; t < volume; ++t) slot[t] = minus_inf;
    const int8_t kind = !any ? 1 : (is_finite(peak) ? 0 : 2);
    work.kind[ow] = kind;
    work.special[ow] = peak;
    if (kind) {  // keep the shared exp loop free of NaN: these windows are set below
      for (t = 0; t < volume; ++t) slot[t] = 0;
      peak = 0;
    }
    for (t = 0; t < volume; ++t) peaks[ow * volume + t] = peak;
  }
  for (int64_t i = 0; i < slots; ++i) work.exps[i] = values[i] - peaks[i];
  exp_block(work.exps.data(), work.exps.data(), slots);
  for (int64_t ow = 0; ow < width; ++ow) {
    if (work.kind[ow] == 1) {
      out[ow] = static_cast<scalar_t>(0);
      lse[ow] = 0;
      continue;
    }
    if (work.kind[ow] == 2) {
      out[ow] = static_cast<scalar_t>(work.special[ow]);
      lse[ow] = work.special[ow];
      continue;
    }
    acc_t total = 0, weighted = 0;
    const acc_t* e = work.exps.data() + ow * volume;
    const acc_t* v = values + ow * volume;
    for (int64_t t = 0; t < volume; ++t) {
      total += e[t];
      weighted += e[t] == acc_t(0) ? acc_t(0) : e[t] * v[t];  // -inf members weigh 0
    }
    out[ow] = static_cast<scalar_t>(weighted / total);
    lse[ow] = peaks[ow * volume] + log_of(total);
  }
}

template <typename acc_t>
struct RowGradWork {
  std::vector<acc_t> values, lse, out, grad, exps;
  std::vector<int64_t> index;
};

// weight * (1 + (v - y)) * grad_out per slot; 0 where the weight is 0 (a -inf member or an
// underflow: 0, not 0 * inf). Vectorized as exp_block.
template <typename acc_t>
GEO3D_VECTORIZE_COMPARES inline void slot_gradients(const acc_t* __restrict__ values,
                                                    const acc_t* __restrict__ out,
                                                    const acc_t* __restrict__ grad,
                                                    acc_t* __restrict__ weights, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const acc_t term = grad[i] * weights[i] * (1 + (values[i] - out[i]));
    weights[i] = weights[i] == acc_t(0) ? acc_t(0) : term;
  }
}

// The backward of one input plane, output row by output row, each window's slots through
// one vectorized exp: grad_plane (in_size) receives every window's contribution in window
// order, the order element_backward sums them in.
template <typename scalar_t, typename acc_t, typename lse_t>
void plane_backward(const scalar_t* plane, const scalar_t* grad_out, const scalar_t* out,
                    const lse_t* lse, const Geometry& g, acc_t* grad_plane,
                    RowGradWork<acc_t>& work) {
  const int64_t width = g.out[2], volume = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t slots = width * volume;
  work.values.resize(slots);
  work.lse.resize(slots);
  work.out.resize(slots);
  work.grad.resize(slots);
  work.exps.resize(slots);
  work.index.resize(slots);
  for (int64_t od = 0; od < g.out[0]; ++od)
    for (int64_t oh = 0; oh < g.out[1]; ++oh) {
      int64_t lo[2], hi[2];
      window_extent(g, 0, od, &lo[0], &hi[0]);
      window_extent(g, 1, oh, &lo[1], &hi[1]);
      const int64_t row = (od * g.out[1] + oh) * width;
      for (int64_t ow = 0; ow < width; ++ow) {
        int64_t wlo, whi;
        window_extent(g, 2, ow, &wlo, &whi);
        const acc_t window_lse = static_cast<acc_t>(lse[row + ow]);
        const bool passes = is_finite(window_lse);  // NaN or infinite window: no gradient
        const acc_t window_out = passes ? static_cast<acc_t>(out[row + ow]) : acc_t(0);
        const acc_t window_grad = passes ? static_cast<acc_t>(grad_out[row + ow]) : acc_t(0);
        int64_t t = ow * volume;
        for (int64_t d = lo[0]; d < hi[0]; ++d)
          for (int64_t h = lo[1]; h < hi[1]; ++h)
            for (int64_t w = wlo; w < whi; ++w, ++t) {
              const int64_t i = (d * g.in[1] + h) * g.in[2] + w;
              work.index[t] = i;
              work.values[t] = passes ? static_cast<acc_t>(plane[i]) : acc_t(0);
            }
        for (; t < (ow + 1) * volume; ++t) {  // padding slots: no input, weight 0
          work.index[t] = -1;
          work.values[t] = 0;
        }
        for (t = ow * volume; t < (ow + 1) * volume; ++t) {
          work.lse[t] = passes ? window_lse : acc_t(0);
          work.out[t] = window_out;
          work.grad[t] = work.index[t] < 0 ? acc_t(0) : window_grad;
        }
      }
      for (int64_t t = 0; t < slots; ++t) work.exps[t] = work.values[t] - work.lse[t];
      exp_block(work.exps.data(), work.exps.data(), slots);
      slot_gradients(work.values.data(), work.out.data(), work.grad.data(), work.exps.data(),
                     slots);
      for (int64_t t = 0; t < slots; ++t) {
        if (work.index[t] >= 0) grad_plane[work.index[t]] += work.exps[t];
      }
    }
}

}  // namespace soft_pool
}  // namespace geo3d
