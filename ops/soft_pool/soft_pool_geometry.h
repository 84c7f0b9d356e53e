// Checks and shapes of SoftPool's (N, C, *spatial) tensors, for the CPU kernel and the
// CUDA glue (torch headers: not included by the .cu file).
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "soft_pool_window.h"

namespace geo3d {
namespace soft_pool {

inline Geometry make_geometry(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                              at::IntArrayRef padding) {
  const int64_t dims = static_cast<int64_t>(kernel.size());
  TORCH_CHECK(dims >= 1 && dims <= 3, "geo3d: soft_pool takes 1 to 3 spatial dims, got ", dims);
  TORCH_CHECK(static_cast<int64_t>(stride.size()) == dims && static_cast<int64_t>(padding.size()) == dims,
              "geo3d: 'kernel_size', 'stride' and 'padding' need one value per spatial dim");
  TORCH_CHECK(x.dim() == dims + 2, "geo3d: expected 'x' of ", dims + 2, " dims (N, C, *spatial), got ",
              x.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "geo3d: 'x' must be a floating-point tensor");
  Geometry g;
  for (int a = 0; a < 3; ++a) {
    g.in[a] = g.out[a] = g.kernel[a] = g.stride[a] = 1;
    g.pad[a] = 0;
  }
  for (int64_t a = 0; a < dims; ++a) {
    const int64_t axis = 3 - dims + a;
    TORCH_CHECK(kernel[a] >= 1 && stride[a] >= 1, "geo3d: kernel sizes and strides must be >= 1");
    TORCH_CHECK(padding[a] >= 0 && 2 * padding[a] <= kernel[a],
                "geo3d: padding must be at most half the kernel size");
    g.in[axis] = x.size(2 + a);
    g.kernel[axis] = kernel[a];
    g.stride[axis] = stride[a];
    g.pad[axis] = padding[a];
    const int64_t span = g.in[axis] + 2 * padding[a] - kernel[a];
    TORCH_CHECK(span >= 0, "geo3d: the kernel (", kernel[a], ") is larger than the padded input (",
                g.in[axis] + 2 * padding[a], ") along spatial dim ", a);
    g.out[axis] = span / stride[a] + 1;
  }
  return g;
}

inline std::vector<int64_t> output_shape(const at::Tensor& x, const Geometry& g) {
  std::vector<int64_t> shape = {x.size(0), x.size(1)};
  const int64_t dims = x.dim() - 2;
  for (int64_t a = 0; a < dims; ++a) shape.push_back(g.out[3 - dims + a]);
  return shape;
}

inline int64_t num_planes(const at::Tensor& x, size_t) { return x.size(0) * x.size(1); }

// lse is kept in the accumulation type (float32 for float16 and bfloat16 inputs).
inline at::ScalarType lse_dtype(const at::Tensor& x) {
  return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

// The backward's tensors: the pooled shape for grad_out, out and lse, consistent dtypes.
inline void check_backward_inputs(const at::Tensor& grad_out, const at::Tensor& x,
                                  const at::Tensor& out, const at::Tensor& lse, const Geometry& g) {
  const auto shape = output_shape(x, g);
  TORCH_CHECK(grad_out.sizes() == at::IntArrayRef(shape) && out.sizes() == at::IntArrayRef(shape) &&
                  lse.sizes() == at::IntArrayRef(shape),
              "geo3d: 'grad_out', 'out' and 'lse' must have the pooled shape");
  TORCH_CHECK(grad_out.scalar_type() == x.scalar_type() && out.scalar_type() == x.scalar_type() &&
                  lse.scalar_type() == lse_dtype(x),
              "geo3d: soft_pool_backward dtypes disagree");
  TORCH_CHECK(grad_out.device() == x.device() && out.device() == x.device() && lse.device() == x.device(),
              "geo3d: soft_pool_backward tensors are on different devices");
}

}  // namespace soft_pool
}  // namespace geo3d
