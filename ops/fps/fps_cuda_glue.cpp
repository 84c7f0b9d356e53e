// Torch-facing glue of the CUDA FPS kernel (built only where torch has CUDA).
#include <torch/library.h>

#include "../common/checks.h"
#include "../common/cuda_glue.h"
#include "../common/cuda_launch.h"

namespace geo3d {
namespace {

at::Tensor farthest_point_sample_cuda(const at::Tensor& xyz, const at::Tensor& lengths,
                                      int64_t num_samples, const at::Tensor& start_idx) {
  check_cuda(xyz, "xyz");
  check_fps_inputs(xyz, lengths, num_samples, start_idx);
  const int64_t batch = xyz.size(0), n = xyz.size(1);
  const c10::cuda::CUDAGuard guard(xyz.device());
  at::Tensor out = at::full({batch, num_samples}, -1, xyz.options().dtype(at::kLong));
  at::Tensor scratch = at::empty({batch, n}, xyz.options());
  const CloudLayout points = CloudLayout::padded(lengths.data_ptr<int64_t>(), n);
  const CloudLayout samples = CloudLayout::padded(nullptr, num_samples);
  AT_DISPATCH_FLOATING_TYPES(xyz.scalar_type(), "farthest_point_sample_cuda", [&] {
    check_launch(cuda::farthest_point_sample<scalar_t>(
                     xyz.data_ptr<scalar_t>(), points, samples, start_idx.data_ptr<int64_t>(),
                     batch, out.data_ptr<int64_t>(), scratch.data_ptr<scalar_t>(),
                     current_stream(xyz)),
                 "farthest_point_sample");
  });
  return out;
}

at::Tensor farthest_point_sample_packed_cuda(const at::Tensor& xyz, const at::Tensor& ptr,
                                             const at::Tensor& sample_ptr, int64_t num_total,
                                             const at::Tensor& start_idx) {
  check_cuda(xyz, "xyz");
  check_packed_fps_inputs(xyz, ptr, sample_ptr, start_idx);
  const int64_t batch = ptr.size(0) - 1;
  const int64_t total = on_host(sample_ptr).data_ptr<int64_t>()[batch];
  TORCH_CHECK(total == num_total, "geo3d: 'num_total' (", num_total,
              ") differs from 'sample_ptr'[-1] (", total, ")");
  const c10::cuda::CUDAGuard guard(xyz.device());
  at::Tensor out = at::full({num_total}, -1, xyz.options().dtype(at::kLong));
  at::Tensor scratch = at::empty({xyz.size(0)}, xyz.options());
  const CloudLayout points = CloudLayout::packed(ptr.data_ptr<int64_t>());
  const CloudLayout samples = CloudLayout::packed(sample_ptr.data_ptr<int64_t>());
  AT_DISPATCH_FLOATING_TYPES(xyz.scalar_type(), "farthest_point_sample_packed_cuda", [&] {
    check_launch(cuda::farthest_point_sample<scalar_t>(
                     xyz.data_ptr<scalar_t>(), points, samples, start_idx.data_ptr<int64_t>(),
                     batch, out.data_ptr<int64_t>(), scratch.data_ptr<scalar_t>(),
                     current_stream(xyz)),
                 "farthest_point_sample_packed");
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) {
  m.impl("farthest_point_sample", &farthest_point_sample_cuda);
  m.impl("farthest_point_sample_packed", &farthest_point_sample_packed_cuda);
}

}  // namespace geo3d
