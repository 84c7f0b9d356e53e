// SoftPool on grids (1D, 2D, 3D) on the CPU: rows of outputs in parallel; the arithmetic
// lives in soft_pool_window.h, shared with the CUDA kernel (the forward's vectorized row
// form in soft_pool_rows.h).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "soft_pool_geometry.h"
#include "soft_pool_rows.h"
#include "soft_pool_window.h"

namespace geo3d {
namespace {

// The row buffers hold a row of outputs' windows; past this many slots (windows of tens of
// thousands of elements) the kernels go window by window instead.
constexpr int64_t kMaxRowSlots = int64_t(1) << 16;

int64_t row_slots(const soft_pool::Geometry& g) {
  return g.out[2] * g.kernel[0] * g.kernel[1] * g.kernel[2];
}

std::tuple<at::Tensor, at::Tensor> soft_pool_cpu(const at::Tensor& x, at::IntArrayRef kernel,
                                                 at::IntArrayRef stride, at::IntArrayRef padding) {
  TORCH_CHECK(x.device().is_cpu(), "geo3d: 'x' must be a CPU tensor here");
  const soft_pool::Geometry g = soft_pool::make_geometry(x, kernel, stride, padding);
  const at::Tensor input = x.contiguous();
  at::Tensor out = at::empty(soft_pool::output_shape(x, g), x.options());
  at::Tensor lse = at::empty(soft_pool::output_shape(x, g), x.options().dtype(soft_pool::lse_dtype(x)));
  const int64_t planes = soft_pool::num_planes(x, kernel.size());
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2], out_size = g.out[0] * g.out[1] * g.out[2];
  if (planes == 0 || out_size == 0) return {out, lse};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "soft_pool_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* in_data = input.data_ptr<scalar_t>();
    scalar_t* out_data = out.data_ptr<scalar_t>();
    acc_t* lse_data = lse.data_ptr<acc_t>();
    if (row_slots(g) > kMaxRowSlots) {  // huge windows: one window at a time, no buffer
      at::parallel_for(0, planes * out_size, 1024, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k) {
          acc_t y, l;
          soft_pool::window_forward<scalar_t, acc_t>(in_data + (k / out_size) * in_size, g,
                                                     k % out_size, &y, &l);
          out_data[k] = static_cast<scalar_t>(y);
          lse_data[k] = l;
        }
      });
      return;
    }
    // a row of outputs at a time (soft_pool_rows.h): rows = planes x D_out x H_out
    const int64_t rows = planes * g.out[0] * g.out[1];
    const int64_t grain = std::max<int64_t>(1, 1024 / g.out[2]);
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
      soft_pool::RowWork<acc_t> work;
      for (int64_t r = begin; r < end; ++r) {
        const int64_t p = r / (g.out[0] * g.out[1]), oh = r % g.out[1];
        const int64_t od = (r / g.out[1]) % g.out[0];
        soft_pool::row_forward<scalar_t, acc_t>(in_data + p * in_size, g, od, oh,
                                                out_data + r * g.out[2], lse_data + r * g.out[2],
                                                work);
      }
    });
  });
  return {out, lse};
}

at::Tensor soft_pool_backward_cpu(const at::Tensor& grad_out, const at::Tensor& x,
                                  const at::Tensor& out, const at::Tensor& lse,
                                  at::IntArrayRef kernel, at::IntArrayRef stride,
                                  at::IntArrayRef padding) {
  TORCH_CHECK(x.device().is_cpu(), "geo3d: 'x' must be a CPU tensor here");
  const soft_pool::Geometry g = soft_pool::make_geometry(x, kernel, stride, padding);
  soft_pool::check_backward_inputs(grad_out, x, out, lse, g);
  const at::Tensor input = x.contiguous(), g_out = grad_out.contiguous(), o_out = out.contiguous(),
                   l_out = lse.contiguous();
  at::Tensor grad = at::empty_like(input);
  const int64_t planes = soft_pool::num_planes(x, kernel.size());
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2], out_size = g.out[0] * g.out[1] * g.out[2];
  if (planes == 0 || in_size == 0) return grad;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "soft_pool_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* in_data = input.data_ptr<scalar_t>();
    const scalar_t* go = g_out.data_ptr<scalar_t>();
    const scalar_t* oo = o_out.data_ptr<scalar_t>();
    const acc_t* lo = l_out.data_ptr<acc_t>();
    scalar_t* grad_data = grad.data_ptr<scalar_t>();
    if (row_slots(g) > kMaxRowSlots) {  // huge windows: per input element, no buffer
      at::parallel_for(0, planes * in_size, 1024, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k) {
          const int64_t p = k / in_size;
          grad_data[k] = static_cast<scalar_t>(soft_pool::element_backward<scalar_t, acc_t, acc_t>(
              in_data + p * in_size, go + p * out_size, oo + p * out_size, lo + p * out_size, g,
              k % in_size));
        }
      });
      return;
    }
    // plane by plane (soft_pool_rows.h): windows that overlap add into the same plane
    at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
      soft_pool::RowGradWork<acc_t> work;
      std::vector<acc_t> plane_grad(in_size);
      for (int64_t p = begin; p < end; ++p) {
        std::fill(plane_grad.begin(), plane_grad.end(), acc_t(0));
        soft_pool::plane_backward<scalar_t, acc_t, acc_t>(in_data + p * in_size, go + p * out_size,
                                                          oo + p * out_size, lo + p * out_size, g,
                                                          plane_grad.data(), work);
        for (int64_t i = 0; i < in_size; ++i) {
          grad_data[p * in_size + i] = static_cast<scalar_t>(plane_grad[i]);
        }
      }
    });
  });
  return grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) {
  m.impl("soft_pool", &soft_pool_cpu);
  m.impl("soft_pool_backward", &soft_pool_backward_cpu);
}

}  // namespace geo3d
