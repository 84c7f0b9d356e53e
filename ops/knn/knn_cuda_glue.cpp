// Torch-facing glue of the CUDA kNN kernel (built only where torch has CUDA).
#include <torch/library.h>

#include <algorithm>
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
  const CloudLayout query_layout =
      CloudLayout::padded(query_lengths.data_ptr<int64_t>(), num_queries);
  const CloudLayout support_layout = CloudLayout::padded(support_lengths.data_ptr<int64_t>(), n);
  if (n == 0) return {dist, idx};
  AT_DISPATCH_FLOATING_TYPES(query.scalar_type(), "knn_cuda", [&] {
    check_launch(cuda::knn<scalar_t>(query.data_ptr<scalar_t>(), support.data_ptr<scalar_t>(),
                                     query_layout, support_layout, batch, num_queries, k,
                                     dist.data_ptr<scalar_t>(), idx.data_ptr<int64_t>(),
                                     current_stream(query)),
                 "knn");
  });
  return {dist, idx};
}

std::tuple<at::Tensor, at::Tensor> knn_packed_cuda(const at::Tensor& query,
                                                   const at::Tensor& support,
                                                   const at::Tensor& query_ptr,
                                                   const at::Tensor& support_ptr, int64_t k) {
  check_packed_query_support(query, support, query_ptr, support_ptr);
  check_cuda(query, "query");
  TORCH_CHECK(k >= 1, "geo3d: 'k' must be at least 1, got ", k);
  const int64_t batch = query_ptr.size(0) - 1;
  const c10::cuda::CUDAGuard guard(query.device());
  at::Tensor dist =
      at::full({query.size(0), k}, std::numeric_limits<double>::infinity(), query.options());
  at::Tensor idx = at::full({query.size(0), k}, -1, query.options().dtype(at::kLong));
  const at::Tensor host_ptr = on_host(query_ptr);
  const int64_t* offsets = host_ptr.data_ptr<int64_t>();
  int64_t max_queries = 0;
  for (int64_t b = 0; b < batch; ++b) {
    max_queries = std::max(max_queries, offsets[b + 1] - offsets[b]);
  }
  const CloudLayout query_layout = CloudLayout::packed(query_ptr.data_ptr<int64_t>());
  const CloudLayout support_layout = CloudLayout::packed(support_ptr.data_ptr<int64_t>());
  AT_DISPATCH_FLOATING_TYPES(query.scalar_type(), "knn_packed_cuda", [&] {
    check_launch(cuda::knn<scalar_t>(query.data_ptr<scalar_t>(), support.data_ptr<scalar_t>(),
                                     query_layout, support_layout, batch, max_queries, k,
                                     dist.data_ptr<scalar_t>(), idx.data_ptr<int64_t>(),
                                     current_stream(query)),
                 "knn_packed");
  });
  return {dist, idx};
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CUDA, m) {
  m.impl("knn", &knn_cuda);
  m.impl("knn_packed", &knn_packed_cuda);
}

}  // namespace geo3d
