// Input checks of the edge-collapse planner: tensor shapes and dtypes, the per-mesh offsets,
// and the topology (every index within its mesh, every neighbour listing the edge back),
// all checked before the planner touches memory.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdint>

namespace geo3d {

inline void check_long_2d(const at::Tensor& t, const char* name, int64_t width) {
  TORCH_CHECK(t.dim() == 2 && t.size(1) == width, "geo3d: expected '", name, "' of shape (E, ",
              width, "), got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == at::kLong, "geo3d: '", name, "' must be int64");
  TORCH_CHECK(t.is_contiguous() && t.device().is_cpu(), "geo3d: '", name,
              "' must be a contiguous CPU tensor");
}

inline void check_ptr(const at::Tensor& ptr, const char* name, int64_t batch, int64_t total) {
  TORCH_CHECK(ptr.dim() == 1 && ptr.size(0) == batch + 1 && ptr.scalar_type() == at::kLong &&
                  ptr.is_contiguous() && ptr.device().is_cpu(),
              "geo3d: expected contiguous int64 CPU '", name, "' of shape (", batch + 1, ")");
  const int64_t* p = ptr.data_ptr<int64_t>();
  TORCH_CHECK(p[0] == 0 && p[batch] == total, "geo3d: '", name, "' must run from 0 to ", total);
  for (int64_t b = 0; b < batch; ++b)
    TORCH_CHECK(p[b] <= p[b + 1], "geo3d: '", name, "' must be non-decreasing");
}

// Every index within its mesh, and every neighbour listing the edge back where `sides` says.
inline void check_topology(const int64_t* edges, const int64_t* gemm, const int64_t* sides, const int64_t* eptr,
                    const int64_t* vptr, int64_t batch) {
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t e = eptr[b]; e < eptr[b + 1]; ++e) {
      for (int j = 0; j < 2; ++j) {
        const int64_t v = edges[2 * e + j];
        TORCH_CHECK(v >= vptr[b] && v < vptr[b + 1], "geo3d: edge ", e, " of mesh ", b,
                    " has vertex ", v, " outside the mesh's vertices [", vptr[b], ", ",
                    vptr[b + 1], ")");
      }
      TORCH_CHECK(edges[2 * e] != edges[2 * e + 1], "geo3d: edge ", e, " is a loop");
      for (int s = 0; s < 4; ++s) {
        const int64_t n = gemm[4 * e + s], back = sides[4 * e + s];
        if (n < 0) {
          TORCH_CHECK(n == -1, "geo3d: gemm[", e, ", ", s, "] = ", n, " (expected -1 or an edge)");
          continue;
        }
        TORCH_CHECK(n >= eptr[b] && n < eptr[b + 1], "geo3d: gemm[", e, ", ", s, "] = ", n,
                    " is outside mesh ", b, "'s edges");
        TORCH_CHECK(back >= 0 && back < 4, "geo3d: sides[", e, ", ", s, "] = ", back,
                    " is not a slot in [0, 4)");
        TORCH_CHECK(gemm[4 * n + back] == e, "geo3d: gemm and sides disagree at edge ", e,
                    " slot ", s, " (its neighbour ", n, " does not list it back)");
      }
      TORCH_CHECK((gemm[4 * e] < 0) == (gemm[4 * e + 1] < 0) &&
                      (gemm[4 * e + 2] < 0) == (gemm[4 * e + 3] < 0),
                  "geo3d: gemm[", e, "] has half a face");
    }
  }
}

}  // namespace geo3d
