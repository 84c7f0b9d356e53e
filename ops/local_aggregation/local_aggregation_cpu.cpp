// Point-NN's local geometry aggregation fused into one pass per group (Zhang et al., CVPR
// 2023, section 3; the official models/point_nn.py, LGA + Pooling): no (B, G, K, C) tensor
// is ever made. Two ops:
//
// group_moments: per cloud, the sum and the sum of squares (float64) of the centred
// neighbour features f[n] - f[c] and of the relative coordinates xyz[n] - xyz[c], from
// which Python takes the official std (one over the batch, or one per cloud).
//
// point_nn_aggregate: per group (b, g) with centre c and neighbours n_1..n_K, for every
// channel j of 2C:
//   e_j = (f[n, j] - f[c, j]) / feat_scale[b]        for j < C
//   e_j = f[c, j - C]                                  for j >= C
//   p   = PosE((xyz[n] - xyz[c]) / xyz_scale[b])       2C channels, interleaved per axis
//   w_j = (e_j + p_j) * p_j
//   out[b, g, j] = max_k w_j + mean_k w_j
// PosE's argument is beta * x / denominators[m] (denominators = alpha^(m / F), given by the
// caller so that they are torch's own floats); float32 uses the vectorized sincos of
// fast_sincos.h, float64 std::sin / std::cos.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fast_sincos.h"
#include "local_aggregation_checks.h"

namespace geo3d {
namespace {

GroupShape check_cpu_groups(const at::Tensor& xyz, const at::Tensor& feats,
                            const at::Tensor& centres, const at::Tensor& neighbours) {
  const GroupShape s = check_groups(xyz, feats, centres, neighbours);
  for (const at::Tensor* t : {&xyz, &feats, &centres, &neighbours}) {
    TORCH_CHECK(t->device().is_cpu(), "geo3d: the inputs must be CPU tensors here");
  }
  for (const at::Tensor* t : {&centres, &neighbours}) {
    const int64_t* index = t->data_ptr<int64_t>();
    bool inside = true;
    for (int64_t i = 0; i < t->numel(); ++i) inside &= (index[i] >= 0) & (index[i] < s.points);
    TORCH_CHECK(inside, "geo3d: '", t == &centres ? "centres" : "neighbours",
                "' has indices outside [0, ", s.points, ")");
  }
  return s;
}

at::Tensor group_moments_cpu(const at::Tensor& xyz, const at::Tensor& feats,
                             const at::Tensor& centres, const at::Tensor& neighbours) {
  const GroupShape s = check_cpu_groups(xyz, feats, centres, neighbours);
  at::Tensor out = at::zeros({s.batch, 4}, xyz.options().dtype(at::kDouble));
  double* moments = out.data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(xyz.scalar_type(), "group_moments_cpu", [&] {
    const scalar_t* p = xyz.data_ptr<scalar_t>();
    const scalar_t* f = feats.data_ptr<scalar_t>();
    const int64_t* centre = centres.data_ptr<int64_t>();
    const int64_t* near = neighbours.data_ptr<int64_t>();
    for (int64_t b = 0; b < s.batch; ++b) {
      // per-thread partial sums, combined in a fixed order: deterministic for a thread count
      const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(s.groups, 64));
      std::vector<double> partial(4 * chunks, 0.0);
      at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t chunk = begin; chunk < end; ++chunk) {
          double sums[4] = {0, 0, 0, 0};
          const int64_t g0 = chunk * s.groups / chunks, g1 = (chunk + 1) * s.groups / chunks;
          for (int64_t g = g0; g < g1; ++g) {
            const int64_t c = centre[b * s.groups + g];
            const scalar_t* fc = f + (b * s.points + c) * s.channels;
            const scalar_t* pc = p + (b * s.points + c) * 3;
            for (int64_t k = 0; k < s.k; ++k) {
              const int64_t n = near[(b * s.groups + g) * s.k + k];
              const scalar_t* fn = f + (b * s.points + n) * s.channels;
              const scalar_t* pn = p + (b * s.points + n) * 3;
              double sum = 0, squares = 0;
              for (int64_t j = 0; j < s.channels; ++j) {
                const double d = static_cast<double>(fn[j] - fc[j]);
                sum += d;
                squares += d * d;
              }
              sums[0] += sum;
              sums[1] += squares;
              for (int a = 0; a < 3; ++a) {
                const double d = static_cast<double>(pn[a] - pc[a]);
                sums[2] += d;
                sums[3] += d * d;
              }
            }
          }
          std::copy(sums, sums + 4, partial.begin() + 4 * chunk);
        }
      });
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        for (int i = 0; i < 4; ++i) moments[4 * b + i] += partial[4 * chunk + i];
      }
    }
  });
  return out;
}

inline void sincos_values(const float* x, float* s, float* c, int64_t n) {
  sincos_block(x, s, c, n);
}

inline void sincos_values(const double* x, double* s, double* c, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    s[i] = std::sin(x[i]);
    c[i] = std::cos(x[i]);
  }
}

template <typename T>
void aggregate_group(const T* f, const T* p, const int64_t* near, int64_t c, const GroupShape& s,
                     T feat_scale, T xyz_scale, const T* denominators, T beta, T* out,
                     std::vector<T>& work) {
  const int64_t channels = s.channels, wide = 2 * s.channels, freq = wide / 6;
  T* expanded = work.data();                  // (2C): e_j without the neighbour part
  T* encoding = expanded + wide;              // (2C) PosE of one neighbour
  T* arguments = encoding + wide;             // (3F)
  T* sines = arguments + 3 * freq;            // (3F)
  T* cosines = sines + 3 * freq;              // (3F)
  T* high = cosines + 3 * freq;               // (2C) running max
  T* total = high + wide;                     // (2C) running sum
  const T* fc = f + c * channels;
  const T* pc = p + c * 3;
  std::fill(high, high + wide, -std::numeric_limits<T>::infinity());
  std::fill(total, total + wide, T(0));
  for (int64_t j = 0; j < channels; ++j) expanded[channels + j] = fc[j];
  for (int64_t k = 0; k < s.k; ++k) {
    const T* fn = f + near[k] * channels;
    const T* pn = p + near[k] * 3;
    for (int a = 0; a < 3; ++a) {
      const T relative = (pn[a] - pc[a]) / xyz_scale;
      const T scaled = beta * relative;
      for (int64_t m = 0; m < freq; ++m) arguments[a * freq + m] = scaled / denominators[m];
    }
    sincos_values(arguments, sines, cosines, 3 * freq);
    for (int64_t i = 0; i < 3 * freq; ++i) {  // interleaved: s0 c0 s1 c1 ... per axis
      encoding[2 * i] = sines[i];
      encoding[2 * i + 1] = cosines[i];
    }
    for (int64_t j = 0; j < channels; ++j) expanded[j] = (fn[j] - fc[j]) / feat_scale;
    for (int64_t j = 0; j < wide; ++j) {
      const T w = (expanded[j] + encoding[j]) * encoding[j];
      high[j] = std::max(high[j], w);
      total[j] += w;
    }
  }
  const T count = static_cast<T>(s.k);
  for (int64_t j = 0; j < wide; ++j) out[j] = high[j] + total[j] / count;
}

at::Tensor point_nn_aggregate_cpu(const at::Tensor& xyz, const at::Tensor& feats,
                                  const at::Tensor& centres, const at::Tensor& neighbours,
                                  const at::Tensor& feat_scale, const at::Tensor& xyz_scale,
                                  const at::Tensor& denominators, double beta) {
  const GroupShape s = check_cpu_groups(xyz, feats, centres, neighbours);
  check_aggregate_scales(s, xyz, feat_scale, xyz_scale, denominators);
  const int64_t freq = 2 * s.channels / 6;
  at::Tensor out = at::empty({s.batch, s.groups, 2 * s.channels}, feats.options());
  AT_DISPATCH_FLOATING_TYPES(xyz.scalar_type(), "point_nn_aggregate_cpu", [&] {
    const scalar_t* p = xyz.data_ptr<scalar_t>();
    const scalar_t* f = feats.data_ptr<scalar_t>();
    const scalar_t* fs = feat_scale.data_ptr<scalar_t>();
    const scalar_t* ps = xyz_scale.data_ptr<scalar_t>();
    const scalar_t* denom = denominators.data_ptr<scalar_t>();
    const int64_t* centre = centres.data_ptr<int64_t>();
    const int64_t* near = neighbours.data_ptr<int64_t>();
    scalar_t* result = out.data_ptr<scalar_t>();
    const int64_t work_size = 4 * 2 * s.channels + 9 * freq;
    at::parallel_for(0, s.batch * s.groups, 8, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> work(work_size);
      for (int64_t row = begin; row < end; ++row) {
        const int64_t b = row / s.groups;
        aggregate_group<scalar_t>(f + b * s.points * s.channels, p + b * s.points * 3,
                                  near + row * s.k, centre[row], s, fs[b], ps[b], denom,
                                  static_cast<scalar_t>(beta), result + row * 2 * s.channels,
                                  work);
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) {
  m.impl("group_moments", &group_moments_cpu);
  m.impl("point_nn_aggregate", &point_nn_aggregate_cpu);
}

}  // namespace geo3d
