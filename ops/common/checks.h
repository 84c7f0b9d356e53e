// Input checks shared by the CPU kernels and the CUDA glue. Every kernel validates the
// tensors it is handed before touching their memory: the Python wrappers check first
// (ValueError), these checks catch callers that bypass them (torch.ops.geo3d.* directly).
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <string>

namespace geo3d {

inline void check_points_tensor(const at::Tensor& t, const char* name, int64_t last_dim) {
  TORCH_CHECK(t.dim() == 3 && t.size(2) == last_dim, "geo3d: expected '", name,
              "' of shape (B, N, ", last_dim, "), got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, "geo3d: '",
              name, "' must be float32 or float64, got ", t.scalar_type());
  TORCH_CHECK(t.is_contiguous(), "geo3d: '", name, "' must be contiguous");
}

inline void check_lengths_tensor(const at::Tensor& lengths, const char* name, int64_t batch,
                                 int64_t max_length) {
  TORCH_CHECK(lengths.dim() == 1 && lengths.size(0) == batch, "geo3d: expected '", name,
              "' of shape (", batch, "), got ", lengths.sizes());
  TORCH_CHECK(lengths.scalar_type() == at::kLong, "geo3d: '", name, "' must be int64");
  TORCH_CHECK(lengths.is_contiguous(), "geo3d: '", name, "' must be contiguous");
}

// Range check of lengths' values, wherever they live: a CUDA tensor is copied to the host
// first (B values), so that the CPU and CUDA kernels reject exactly the same inputs.
inline at::Tensor on_host(const at::Tensor& t) { return t.is_cpu() ? t : t.cpu(); }

inline void check_lengths_values(const at::Tensor& lengths, const char* name,
                                 int64_t max_length) {
  const at::Tensor host = on_host(lengths);
  const int64_t* data = host.data_ptr<int64_t>();
  for (int64_t b = 0; b < lengths.size(0); ++b) {
    TORCH_CHECK(data[b] >= 0 && data[b] <= max_length, "geo3d: '", name, "'[", b, "] = ",
                data[b], " is outside [0, ", max_length, "]");
  }
}

inline void check_same_device(const at::Tensor& a, const char* a_name, const at::Tensor& b,
                              const char* b_name) {
  TORCH_CHECK(a.device() == b.device(), "geo3d: '", a_name, "' is on ", a.device(), " but '",
              b_name, "' is on ", b.device());
}

// A lengths tensor of `points`: (batch,) int64, on the points' device, values in
// [0, max_length].
inline void check_lengths(const at::Tensor& lengths, const char* name, const at::Tensor& points,
                          const char* points_name, int64_t batch, int64_t max_length) {
  check_lengths_tensor(lengths, name, batch, max_length);
  check_same_device(points, points_name, lengths, name);
  check_lengths_values(lengths, name, max_length);
}

// The (query, support) pair of kNN and ball query with their lengths, on one device, and
// the lengths' values in range (read on the host; the CUDA kernels also clamp them).
inline void check_query_support(const at::Tensor& query, const at::Tensor& support,
                                const at::Tensor& query_lengths,
                                const at::Tensor& support_lengths) {
  check_points_tensor(query, "query", 3);
  check_points_tensor(support, "support", 3);
  check_same_device(query, "query", support, "support");
  TORCH_CHECK(query.scalar_type() == support.scalar_type(),
              "geo3d: 'query' and 'support' must have the same dtype");
  TORCH_CHECK(query.size(0) == support.size(0), "geo3d: 'query' and 'support' batch sizes differ");
  const int64_t batch = query.size(0), num_queries = query.size(1), n = support.size(1);
  TORCH_CHECK(n < (int64_t(1) << 31),
              "geo3d: clouds of 2^31 points or more are not supported ('support' has ", n, ")");
  check_lengths(query_lengths, "query_lengths", query, "query", batch, num_queries);
  check_lengths(support_lengths, "support_lengths", query, "query", batch, n);
}

// FPS's inputs, shared by the CPU kernel and the CUDA glue: the same checks and messages.
inline void check_fps_inputs(const at::Tensor& xyz, const at::Tensor& lengths,
                             int64_t num_samples, const at::Tensor& start_idx) {
  check_points_tensor(xyz, "xyz", 3);
  TORCH_CHECK(num_samples >= 1, "geo3d: 'num_samples' must be at least 1, got ", num_samples);
  const int64_t batch = xyz.size(0), n = xyz.size(1);
  TORCH_CHECK(n < (int64_t(1) << 31),
              "geo3d: clouds of 2^31 points or more are not supported ('xyz' has ", n, ")");
  check_lengths(lengths, "lengths", xyz, "xyz", batch, n);
  check_lengths_tensor(start_idx, "start_idx", batch, n);
  check_same_device(xyz, "xyz", start_idx, "start_idx");
  const at::Tensor len_host = on_host(lengths), start_host = on_host(start_idx);
  const int64_t* len = len_host.data_ptr<int64_t>();
  const int64_t* start = start_host.data_ptr<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    TORCH_CHECK(len[b] == 0 || (start[b] >= 0 && start[b] < len[b]), "geo3d: 'start_idx'[", b,
                "] = ", start[b], " is outside cloud ", b, " of ", len[b], " points");
  }
}

// A packed cloud tensor (P, 3) and its offsets ptr (B + 1,): int64, contiguous, on the
// points' device, ptr[0] == 0, non-decreasing, ptr[B] == P (read on the host).
inline void check_packed_points(const at::Tensor& points, const char* name,
                                const at::Tensor& ptr, const char* ptr_name) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 3, "geo3d: expected '", name,
              "' of shape (P, 3) (packed clouds), got ", points.sizes());
  TORCH_CHECK(points.scalar_type() == at::kFloat || points.scalar_type() == at::kDouble,
              "geo3d: '", name, "' must be float32 or float64, got ", points.scalar_type());
  TORCH_CHECK(points.is_contiguous(), "geo3d: '", name, "' must be contiguous");
  TORCH_CHECK(points.size(0) < (int64_t(1) << 31), "geo3d: '", name,
              "' has 2^31 points or more, which is not supported");
  TORCH_CHECK(ptr.dim() == 1 && ptr.size(0) >= 1, "geo3d: expected '", ptr_name,
              "' of shape (B + 1,), got ", ptr.sizes());
  TORCH_CHECK(ptr.scalar_type() == at::kLong, "geo3d: '", ptr_name, "' must be int64");
  TORCH_CHECK(ptr.is_contiguous(), "geo3d: '", ptr_name, "' must be contiguous");
  check_same_device(points, name, ptr, ptr_name);
  const at::Tensor host = on_host(ptr);
  const int64_t* data = host.data_ptr<int64_t>();
  const int64_t batch = ptr.size(0) - 1;
  TORCH_CHECK(data[0] == 0, "geo3d: '", ptr_name, "'[0] must be 0, got ", data[0]);
  for (int64_t b = 0; b < batch; ++b) {
    TORCH_CHECK(data[b + 1] >= data[b], "geo3d: '", ptr_name, "' must be non-decreasing ('",
                ptr_name, "'[", b + 1, "] = ", data[b + 1], " < ", data[b], ")");
  }
  TORCH_CHECK(data[batch] == points.size(0), "geo3d: '", ptr_name, "'[-1] = ", data[batch],
              " but '", name, "' has ", points.size(0), " points");
}

// The packed (query, support) pair of knn_packed with their offsets.
inline void check_packed_query_support(const at::Tensor& query, const at::Tensor& support,
                                       const at::Tensor& query_ptr,
                                       const at::Tensor& support_ptr) {
  check_packed_points(query, "query", query_ptr, "query_ptr");
  check_packed_points(support, "support", support_ptr, "support_ptr");
  check_same_device(query, "query", support, "support");
  TORCH_CHECK(query.scalar_type() == support.scalar_type(),
              "geo3d: 'query' and 'support' must have the same dtype");
  TORCH_CHECK(query_ptr.size(0) == support_ptr.size(0),
              "geo3d: 'query_ptr' and 'support_ptr' describe different numbers of clouds (",
              query_ptr.size(0) - 1, " and ", support_ptr.size(0) - 1, ")");
}

// Packed FPS: xyz (P, 3) with ptr (B + 1,); sample_ptr (B + 1,) the output offsets, no
// cloud asked for more samples than it has points; start_idx (B,) inside each cloud.
inline void check_packed_fps_inputs(const at::Tensor& xyz, const at::Tensor& ptr,
                                    const at::Tensor& sample_ptr, const at::Tensor& start_idx) {
  check_packed_points(xyz, "xyz", ptr, "ptr");
  const int64_t batch = ptr.size(0) - 1;
  TORCH_CHECK(sample_ptr.dim() == 1 && sample_ptr.size(0) == batch + 1, "geo3d: expected ",
              "'sample_ptr' of shape (", batch + 1, "), got ", sample_ptr.sizes());
  TORCH_CHECK(sample_ptr.scalar_type() == at::kLong && sample_ptr.is_contiguous(),
              "geo3d: 'sample_ptr' must be contiguous int64");
  check_same_device(xyz, "xyz", sample_ptr, "sample_ptr");
  check_lengths_tensor(start_idx, "start_idx", batch, 0);
  check_same_device(xyz, "xyz", start_idx, "start_idx");
  const at::Tensor p = on_host(ptr), sp = on_host(sample_ptr), st = on_host(start_idx);
  const int64_t* points = p.data_ptr<int64_t>();
  const int64_t* samples = sp.data_ptr<int64_t>();
  const int64_t* start = st.data_ptr<int64_t>();
  TORCH_CHECK(samples[0] == 0, "geo3d: 'sample_ptr'[0] must be 0, got ", samples[0]);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = points[b + 1] - points[b], m = samples[b + 1] - samples[b];
    TORCH_CHECK(m >= 0 && m <= n, "geo3d: cloud ", b, " has ", n,
                " points but 'sample_ptr' asks for ", m, " samples");
    TORCH_CHECK(n == 0 || (start[b] >= 0 && start[b] < n), "geo3d: 'start_idx'[", b, "] = ",
                start[b], " is outside cloud ", b, " of ", n, " points");
  }
}

}  // namespace geo3d
