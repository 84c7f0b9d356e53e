// Torch-facing glue of the CUDA ball-query kernel (built only where torch has CUDA).
#include <torch/library.h>

#include "../common/checks.h"
#include "../common/cuda_glue.h"
#include "../common/cuda_launch.h"

namespace geo3d {
namespace {

at::Tensor ball_query_cuda(const at::Tensor& query, const at::Tensor& support,
                           const at::Tensor& query_lengths, const at::Tensor& support_lengths,
                           double radius, int64_t max_neighbors) {
  check_query_support(query, support, query_lengths, support_lengths);
  check_cuda(query, "query");
  TORCH_CHECK(radius > 0, "geo3d: 'radius' must be positive, got ", radius);
  TORCH_CHECK(max_neighbors >= 1, "geo3d: 'max_neighbors' must be at least 1");
  const int64_t batch = query.size(0), num_queries = query.size(1), n = support.size(1);
  const c10::cuda::CUDAGuard guard(query.device());
  at::Tensor idx = at::full({batch, num_queries, max_neighbors}, -1,
                            query.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(query.scalar_type(), "ball_query_cuda", [&] {
    check_launch(cuda::ball_query<scalar_t>(
                     query.data_ptr<scalar_t>(), support.data_ptr<scalar_t>(),
                     query_lengths.data_ptr<int64_t>(), support_lengths.data_ptr<int64_t>(),
                     batch, num_queries, n, static_cast<scalar_t>(radius * radius),
                     max_neighbors, idx.data_ptr<int64_t>(), current_stream(query)),
                 "ball_query");
  });
  return idx;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) { m.impl("ball_query", &ball_query_cuda); }

}  // namespace geo3d
