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

}  // namespace geo3d
