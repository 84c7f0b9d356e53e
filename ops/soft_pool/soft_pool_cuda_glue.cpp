// Torch-facing glue of the CUDA SoftPool (built only where torch has CUDA).
#include <torch/library.h>

#include <tuple>

#include "../common/cuda_glue.h"
#include "../common/cuda_launch.h"
#include "soft_pool_geometry.h"

namespace geo3d {
namespace {

cuda::SoftPoolDtype dtype_code(const at::Tensor& x) {
  switch (x.scalar_type()) {
    case at::kFloat: return cuda::SoftPoolDtype::kFloat;
    case at::kDouble: return cuda::SoftPoolDtype::kDouble;
    case at::kHalf: return cuda::SoftPoolDtype::kHalf;
    case at::kBFloat16: return cuda::SoftPoolDtype::kBFloat16;
    default: TORCH_CHECK(false, "geo3d: soft_pool takes float16, bfloat16, float32 or float64");
  }
}

std::tuple<at::Tensor, at::Tensor> soft_pool_cuda(const at::Tensor& x, at::IntArrayRef kernel,
                                                  at::IntArrayRef stride, at::IntArrayRef padding) {
  check_cuda(x, "x");
  const soft_pool::Geometry g = soft_pool::make_geometry(x, kernel, stride, padding);
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor input = x.contiguous();
  at::Tensor out = at::empty(soft_pool::output_shape(x, g), x.options());
  at::Tensor lse = at::empty(soft_pool::output_shape(x, g), x.options().dtype(soft_pool::lse_dtype(x)));
  check_launch(cuda::soft_pool_forward(dtype_code(x), input.data_ptr(), x.size(0) * x.size(1), g,
                                       out.data_ptr(), lse.data_ptr(), current_stream(x)),
               "soft_pool");
  return {out, lse};
}

at::Tensor soft_pool_backward_cuda(const at::Tensor& grad_out, const at::Tensor& x,
                                   const at::Tensor& out, const at::Tensor& lse,
                                   at::IntArrayRef kernel, at::IntArrayRef stride,
                                   at::IntArrayRef padding) {
  check_cuda(x, "x");
  const soft_pool::Geometry g = soft_pool::make_geometry(x, kernel, stride, padding);
  soft_pool::check_backward_inputs(grad_out, x, out, lse, g);
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor input = x.contiguous(), g_out = grad_out.contiguous(), o_out = out.contiguous(),
                   l_out = lse.contiguous();
  at::Tensor grad = at::empty_like(input);
  check_launch(cuda::soft_pool_backward(dtype_code(x), g_out.data_ptr(), input.data_ptr(),
                                        o_out.data_ptr(), l_out.data_ptr(), x.size(0) * x.size(1),
                                        g, grad.data_ptr(), current_stream(x)),
               "soft_pool_backward");
  return grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) {
  m.impl("soft_pool", &soft_pool_cuda);
  m.impl("soft_pool_backward", &soft_pool_backward_cuda);
}

}  // namespace geo3d
