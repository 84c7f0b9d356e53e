// SoftPool over one window and its gradient, shared by the CPU kernel and the CUDA kernel
// (plain C++ with __host__ __device__ where nvcc compiles it; no torch headers).
//
// A window's output is y = sum_i w_i a_i with w_i = exp(a_i - m) / sum_j exp(a_j - m), m the
// window's maximum (so exp never overflows), computed per channel; lse = m + log(sum_j
// exp(a_j - m)) is kept so that the backward recomputes w_i = exp(a_i - lse) from the input
// instead of saving an exp tensor. Padded positions are outside the window (weight 0).
// Non-finite inputs: a -inf element has weight 0; a window whose maximum is NaN, -inf or
// +inf outputs that value and passes no gradient (the same rule as scatter's "soft").
// The gradient is exact: dy/da_i = w_i (1 + a_i - y), summed over every window holding a_i,
// gathered per input element (no atomics, deterministic).
#pragma once

#include <math.h>

#include <cstdint>

#ifdef __CUDACC__
#define GEO3D_HD __host__ __device__
#else
#define GEO3D_HD
#endif

namespace geo3d {
namespace soft_pool {

struct Geometry {
  int64_t in[3];      // input extent (D, H, W); unused leading axes are 1
  int64_t out[3];     // output extent
  int64_t kernel[3];
  int64_t stride[3];
  int64_t pad[3];
};

GEO3D_HD inline float exp_of(float x) { return expf(x); }
GEO3D_HD inline double exp_of(double x) { return exp(x); }
GEO3D_HD inline float log_of(float x) { return logf(x); }
GEO3D_HD inline double log_of(double x) { return log(x); }
// x - x is 0 for finite x and NaN for NaN and +-inf (no <cmath> overload set needed on device).
template <typename T>
GEO3D_HD inline bool is_finite(T x) { return x - x == T(0); }

// Output element `o` (flat in the output plane) of one input plane.
template <typename scalar_t, typename acc_t>
GEO3D_HD inline void window_forward(const scalar_t* plane, const Geometry& g, int64_t o,
                                    acc_t* y, acc_t* lse) {
  const int64_t ow = o % g.out[2], oh = (o / g.out[2]) % g.out[1], od = o / (g.out[2] * g.out[1]);
  int64_t lo[3], hi[3];
  const int64_t at[3] = {od, oh, ow};
  for (int a = 0; a < 3; ++a) {
    const int64_t start = at[a] * g.stride[a] - g.pad[a];
    lo[a] = start < 0 ? 0 : start;
    const int64_t end = start + g.kernel[a];
    hi[a] = end > g.in[a] ? g.in[a] : end;
  }
  bool any = false;
  acc_t peak = 0;
  for (int64_t d = lo[0]; d < hi[0]; ++d)
    for (int64_t h = lo[1]; h < hi[1]; ++h)
      for (int64_t w = lo[2]; w < hi[2]; ++w) {
        const acc_t v = static_cast<acc_t>(plane[(d * g.in[1] + h) * g.in[2] + w]);
        if (!any || ((v > peak || v != v) && peak == peak)) peak = v;  // NaN sticks
        any = true;
      }
  if (!any) {
    *y = 0;
    *lse = 0;
    return;
  }
  // A NaN window stays NaN; an all -inf window is -inf and one holding +inf is +inf (the
  // formula's limits). Neither passes a gradient (element_backward).
  if (!is_finite(peak)) {
    *y = peak;
    *lse = peak;
    return;
  }
  acc_t total = 0, weighted = 0;
  for (int64_t d = lo[0]; d < hi[0]; ++d)
    for (int64_t h = lo[1]; h < hi[1]; ++h)
      for (int64_t w = lo[2]; w < hi[2]; ++w) {
        const acc_t v = static_cast<acc_t>(plane[(d * g.in[1] + h) * g.in[2] + w]);
        const acc_t e = exp_of(v - peak);
        total += e;
        weighted += e == acc_t(0) ? acc_t(0) : e * v;  // a -inf member weighs 0, not 0 * -inf
      }
  *y = weighted / total;
  *lse = peak + log_of(total);
}

// d(loss)/d(input element i) of one plane, from the output gradient, output and lse planes.
template <typename scalar_t, typename acc_t, typename lse_t>
GEO3D_HD inline acc_t element_backward(const scalar_t* plane, const scalar_t* grad_out,
                                       const scalar_t* out, const lse_t* lse, const Geometry& g,
                                       int64_t i) {
  const int64_t iw = i % g.in[2], ih = (i / g.in[2]) % g.in[1], id = i / (g.in[2] * g.in[1]);
  const int64_t at[3] = {id, ih, iw};
  int64_t lo[3], hi[3];
  for (int a = 0; a < 3; ++a) {
    // windows o with o * s - p <= i < o * s - p + k
    const int64_t top = at[a] + g.pad[a];
    int64_t first = top - g.kernel[a] + 1;
    first = first <= 0 ? 0 : (first + g.stride[a] - 1) / g.stride[a];
    int64_t last = top / g.stride[a];
    if (last > g.out[a] - 1) last = g.out[a] - 1;
    lo[a] = first;
    hi[a] = last;
  }
  const acc_t v = static_cast<acc_t>(plane[i]);
  acc_t grad = 0;
  for (int64_t d = lo[0]; d <= hi[0]; ++d)
    for (int64_t h = lo[1]; h <= hi[1]; ++h)
      for (int64_t w = lo[2]; w <= hi[2]; ++w) {
        const int64_t o = (d * g.out[1] + h) * g.out[2] + w;
        const acc_t window_lse = static_cast<acc_t>(lse[o]);
        if (!is_finite(window_lse)) continue;  // NaN or infinite window: no gradient
        const acc_t weight = exp_of(v - window_lse);
        if (weight == acc_t(0)) continue;  // a -inf member (or an underflow): 0, not 0 * inf
        // 1 + (a - y), not (1 + a) - y: for large equal members the 1 would round away
        grad += static_cast<acc_t>(grad_out[o]) * weight * (1 + (v - static_cast<acc_t>(out[o])));
      }
  return grad;
}

}  // namespace soft_pool
}  // namespace geo3d
