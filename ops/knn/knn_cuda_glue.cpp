// Torch-facing glue of the CUDA kNN kernel (built only where torch has CUDA).
#include <torch/library.h>

#include <limits>
#include <tuple>

#include "../common/checks.h"
#include "../common/cuda_glue.h"
#include "../common/cuda_launch.h"

namespace geo3d {
namespace {

std::tuple<at::Tensor, at::Tensor> knn_cuda(const at::Tensor& query, const at::Tensor& support,
                                            const at::Tensor& query_lengths,
                                            const at::Tensor& support_lengths, int64_t k) {
  check_query_support(query, support, query_lengths, support_lengths);
  check_cuda(query, "query");
  TORCH_CHECK(k >= 1, "geo3d: 'k' must be at least 1, got ", k);
  const int64_t batch = query.size(0), num_queries = query.size(1), n = support.size(1);
  const c10::cuda::CUDAGuard guard(query.device());
  at::Tensor dist = at::full({batch, num_queries, k}, std::numeric_limits<double>::infinity(),
                             query.options());
  at::Tensor idx = at::full({batch, num_queries, k}, -1, query.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(query.scalar_type(), "knn_cuda", [&] {
    check_launch(cuda::knn<scalar_t>(query.data_ptr<scalar_t>(), support.data_ptr<scalar_t>(),
                                     query_lengths.data_ptr<int64_t>(),
                                     support_lengths.data_ptr<int64_t>(), batch, num_queries, n,
                                     k, dist.data_ptr<scalar_t>(), idx.data_ptr<int64_t>(),
                                     current_stream(query)),
                 "knn");
  });
  return {dist, idx};
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) { m.impl("knn", &knn_cuda); }

}  // namespace geo3d
