// SoftPool on grids on the GPU: one thread per output element (forward) and per input
// element (backward, gathering over the windows that hold it: no atomics). The arithmetic
// is soft_pool_window.h, shared with the CPU kernel.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/cuda_launch.h"
#include "soft_pool_window.h"

namespace geo3d {
namespace cuda {
namespace {

template <typename T, typename Acc>
__global__ void forward_kernel(const T* __restrict__ x, int64_t planes, soft_pool::Geometry g,
                               T* __restrict__ out, Acc* __restrict__ lse) {
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2], out_size = g.out[0] * g.out[1] * g.out[2];
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= planes * out_size) return;
  const int64_t p = k / out_size, o = k % out_size;
  Acc y, l;
  soft_pool::window_forward<T, Acc>(x + p * in_size, g, o, &y, &l);
  out[k] = static_cast<T>(y);
  lse[k] = l;
}

template <typename T, typename Acc>
__global__ void backward_kernel(const T* __restrict__ grad_out, const T* __restrict__ x,
                                const T* __restrict__ out, const Acc* __restrict__ lse,
                                int64_t planes, soft_pool::Geometry g, T* __restrict__ grad_x) {
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2], out_size = g.out[0] * g.out[1] * g.out[2];
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= planes * in_size) return;
  const int64_t p = k / in_size, i = k % in_size;
  grad_x[k] = static_cast<T>(soft_pool::element_backward<T, Acc, Acc>(
      x + p * in_size, grad_out + p * out_size, out + p * out_size, lse + p * out_size, g, i));
}

unsigned blocks_for(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

template <typename T, typename Acc>
int launch_forward(const void* x, int64_t planes, const soft_pool::Geometry& g, void* out,
                   void* lse, void* stream) {
  const int64_t n = planes * g.out[0] * g.out[1] * g.out[2];
  if (n == 0) return 0;
  forward_kernel<T, Acc><<<blocks_for(n, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const T*>(x), planes, g, static_cast<T*>(out), static_cast<Acc*>(lse));
  return static_cast<int>(cudaGetLastError());
}

template <typename T, typename Acc>
int launch_backward(const void* grad_out, const void* x, const void* out, const void* lse,
                    int64_t planes, const soft_pool::Geometry& g, void* grad_x, void* stream) {
  const int64_t n = planes * g.in[0] * g.in[1] * g.in[2];
  if (n == 0) return 0;
  backward_kernel<T, Acc><<<blocks_for(n, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const T*>(grad_out), static_cast<const T*>(x), static_cast<const T*>(out),
      static_cast<const Acc*>(lse), planes, g, static_cast<T*>(grad_x));
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int soft_pool_forward(SoftPoolDtype dtype, const void* x, int64_t planes,
                      const soft_pool::Geometry& g, void* out, void* lse, void* stream) {
  switch (dtype) {
    case SoftPoolDtype::kFloat: return launch_forward<float, float>(x, planes, g, out, lse, stream);
    case SoftPoolDtype::kDouble: return launch_forward<double, double>(x, planes, g, out, lse, stream);
    case SoftPoolDtype::kHalf: return launch_forward<__half, float>(x, planes, g, out, lse, stream);
    case SoftPoolDtype::kBFloat16:
      return launch_forward<__nv_bfloat16, float>(x, planes, g, out, lse, stream);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

int soft_pool_backward(SoftPoolDtype dtype, const void* grad_out, const void* x, const void* out,
                       const void* lse, int64_t planes, const soft_pool::Geometry& g,
                       void* grad_x, void* stream) {
  switch (dtype) {
    case SoftPoolDtype::kFloat:
      return launch_backward<float, float>(grad_out, x, out, lse, planes, g, grad_x, stream);
    case SoftPoolDtype::kDouble:
      return launch_backward<double, double>(grad_out, x, out, lse, planes, g, grad_x, stream);
    case SoftPoolDtype::kHalf:
      return launch_backward<__half, float>(grad_out, x, out, lse, planes, g, grad_x, stream);
    case SoftPoolDtype::kBFloat16:
      return launch_backward<__nv_bfloat16, float>(grad_out, x, out, lse, planes, g, grad_x, stream);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace cuda
}  // namespace geo3d
