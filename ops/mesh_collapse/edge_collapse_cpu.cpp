// MeshCNN's edge-collapse planning on the CPU, one mesh per task, meshes in parallel.
//
// The rules, their order and the unions are those of geo3d/ops/edge_collapse.py (the
// readable reference, whose docstring cites the official mesh_pool.py); the tests compare
// the two output for output. Memory is linear in the edge count: a heap of (priority, id),
// per-vertex incident-edge lists and per-edge sorted member lists (freed when an edge
// dies), where the official code keeps a dense E x E union matrix.
//
// `official` keeps the official bookkeeping: a removed triplet's edges stay in the
// incident-edge lists `ve_` (stale entries) and `stale` adds the previous layer's stale
// entries as references to local edge 0. The official merge renames the vertex in every
// edge row; the rows ever read again are those in some list, and row 0 (which the carried
// stale entries read even after edge 0 died), so those are the rows renamed here.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

#include "edge_collapse_checks.h"

namespace geo3d {
namespace {

using Index = int64_t;

struct MeshResult {
  std::vector<Index> kept;                 // local ids of surviving edges, increasing
  std::vector<Index> edges, gemm, sides;   // per kept edge, local ids (gemm: local edge ids)
  std::vector<Index> member_rows;          // flattened (input local id, kept position)
  std::vector<double> vertices;            // local positions after merges
  std::vector<uint8_t> vertex_alive;
  std::vector<Index> stale;                // per local vertex: list entries not its live edges
};

class MeshCollapse {
 public:
  MeshCollapse(const Index* edges, const Index* gemm, const Index* sides, Index num_edges,
               Index edge_offset, Index vertex_offset, Index num_vertices, const double* xyz,
               bool official, const Index* stale)
      : official_(official), num_edges_(num_edges), count_(num_edges) {
    edges_.resize(2 * num_edges);
    gemm_.resize(4 * num_edges);
    sides_.assign(sides, sides + 4 * num_edges);
    for (Index e = 0; e < num_edges; ++e) {
      for (int j = 0; j < 2; ++j) edges_[2 * e + j] = edges[2 * e + j] - vertex_offset;
      for (int j = 0; j < 4; ++j) {
        const Index g = gemm[4 * e + j];
        gemm_[4 * e + j] = g < 0 ? -1 : g - edge_offset;
      }
    }
    alive_.assign(num_edges, 1);
    groups_.resize(num_edges);
    for (Index e = 0; e < num_edges; ++e) groups_[e] = {e};
    ve_.resize(num_vertices);
    for (Index e = 0; e < num_edges; ++e) {
      ve_[edges_[2 * e]].push_back(e);
      ve_[edges_[2 * e + 1]].push_back(e);
    }
    if (official && num_edges > 0) {
      for (Index v = 0; v < num_vertices; ++v) ve_[v].insert(ve_[v].end(), stale[v], Index(0));
    }
    vertices_.assign(xyz, xyz + 3 * num_vertices);
    vertex_alive_.assign(num_vertices, 1);
    stamp_.assign(num_vertices, 0);
  }

  void run(const float* priority_f, const double* priority_d, Index target) {
    using Entry = std::pair<double, Index>;
    std::vector<Entry> entries(num_edges_);
    for (Index e = 0; e < num_edges_; ++e) {
      entries[e] = {priority_f ? static_cast<double>(priority_f[e]) : priority_d[e], e};
    }
    // A min-heap over (priority, id): only the popped prefix is ever ordered.
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap(
        std::greater<Entry>(), std::move(entries));
    while (count_ > target && !heap.empty()) {
      const Index e = heap.top().second;
      heap.pop();
      if (alive_[e]) collapse(e, target);
    }
  }

  MeshResult result() const {
    MeshResult out;
    std::vector<Index> position(num_edges_, -1);
    for (Index e = 0; e < num_edges_; ++e) {
      if (alive_[e]) {
        position[e] = static_cast<Index>(out.kept.size());
        out.kept.push_back(e);
      }
    }
    for (const Index e : out.kept) {
      for (int j = 0; j < 2; ++j) out.edges.push_back(edges_[2 * e + j]);
      for (int j = 0; j < 4; ++j) {
        const Index g = gemm_[4 * e + j];
        out.gemm.push_back(g < 0 ? -1 : position[g]);
        out.sides.push_back(sides_[4 * e + j]);
      }
      for (const Index m : groups_[e]) {
        out.member_rows.push_back(m);
        out.member_rows.push_back(position[e]);
      }
    }
    out.vertices = vertices_;
    out.vertex_alive = vertex_alive_;
    out.stale.resize(ve_.size());
    for (size_t v = 0; v < ve_.size(); ++v) out.stale[v] = static_cast<Index>(ve_[v].size());
    for (const Index e : out.kept) {
      --out.stale[edges_[2 * e]];
      --out.stale[edges_[2 * e + 1]];
    }
    return out;
  }

 private:
  Index g(Index e, int s) const { return gemm_[4 * e + s]; }
  Index sd(Index e, int s) const { return sides_[4 * e + s]; }

  bool has_boundary(Index e) const {
    for (int s = 0; s < 4; ++s) {
      const Index n = g(e, s);
      if (n < 0) return true;
      for (int t = 0; t < 4; ++t)
        if (g(n, t) < 0) return true;
    }
    return false;
  }

  void collapse(Index e, Index target) {
    if (has_boundary(e)) return;
    if (!clean_side(e, 0, target) || !clean_side(e, 2, target)) return;
    if (!link_condition(e)) return;
    pool_side(e, 0);
    pool_side(e, 2);
    kill(e);
    merge_vertices(e);
  }

  bool clean_side(Index e, int side, Index target) {
    if (count_ <= target) return false;
    while (true) {
      Index triplet[3];
      const int found = find_triplet(e, side, triplet);
      if (found < 0) return false;  // a configuration the rules cannot handle
      if (found == 0) return true;
      remove_triplet(triplet);
      if (count_ <= target || has_boundary(e)) return false;
    }
  }

  struct FaceInfo {
    Index key_a, key_b;
    int other_a, other_b;
    Index keys_a[2], keys_b[2];
  };

  FaceInfo face_info(Index e, int side) const {
    FaceInfo f;
    f.key_a = g(e, side);
    f.key_b = g(e, side + 1);
    const Index side_a = sd(e, side), side_b = sd(e, side + 1);
    f.other_a = static_cast<int>((side_a - side_a % 2 + 2) % 4);
    f.other_b = static_cast<int>((side_b - side_b % 2 + 2) % 4);
    for (int i = 0; i < 2; ++i) {
      f.keys_a[i] = g(f.key_a, f.other_a + i);
      f.keys_b[i] = g(f.key_b, f.other_b + i);
    }
    return f;
  }

  static int other_side(Index side) { return static_cast<int>(side + 1 - 2 * (side % 2)); }

  // 0: the side is clean; 1: a triplet, re-linked, its edges in `out`; -1: skip the edge.
  int find_triplet(Index e, int side, Index* out) {
    const FaceInfo f = face_info(e, side);
    int shared = 0, si = 0, sj = 0;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        if (f.keys_a[i] == f.keys_b[j]) {
          ++shared;
          si = i;
          sj = j;
        }
    if (shared == 0) return 0;
    if (shared != 1) return -1;
    const Index middle = f.keys_a[si];
    const Index center = common_vertex(f.key_a, f.key_b, middle);
    if (center < 0) return -1;
    // Exact: only a valence-3 vertex is a triplet (at a pinch, other fans still use it).
    if (!official_ && ve_[center].size() != 3) return -1;
    const Index update_a = f.keys_a[1 - si], update_b = f.keys_b[1 - sj];
    const Index update_side_a = sd(f.key_a, f.other_a + 1 - si);
    const Index update_side_b = sd(f.key_b, f.other_b + 1 - sj);
    redirect(e, side, update_a, update_side_a);
    redirect(e, side + 1, update_b, update_side_b);
    redirect(update_a, other_side(update_side_a), update_b, other_side(update_side_b));
    unite(f.key_a, e);
    unite(f.key_b, e);
    unite(f.key_a, update_a);
    unite(middle, update_a);
    unite(f.key_b, update_b);
    unite(middle, update_b);
    out[0] = f.key_a;
    out[1] = f.key_b;
    out[2] = middle;
    return 1;
  }

  // The one vertex shared by three edges, or -1 if there is not exactly one.
  Index common_vertex(Index a, Index b, Index c) const {
    Index found = -1;
    int hits = 0;
    for (int i = 0; i < 2; ++i) {
      const Index v = edges_[2 * a + i];
      if (i == 1 && v == edges_[2 * a]) break;
      const bool in_b = edges_[2 * b] == v || edges_[2 * b + 1] == v;
      const bool in_c = edges_[2 * c] == v || edges_[2 * c + 1] == v;
      if (in_b && in_c) {
        found = v;
        ++hits;
      }
    }
    return hits == 1 ? found : -1;
  }

  void remove_triplet(const Index* triplet) {
    const Index v = common_vertex(triplet[0], triplet[1], triplet[2]);
    for (int i = 0; i < 3; ++i) kill(triplet[i], /*leave_lists=*/!official_);
    vertex_alive_[v] = 0;
  }

  bool link_condition(Index e) {
    const Index a = edges_[2 * e], b = edges_[2 * e + 1];
    ++epoch_;
    for (const Index k : ve_[a]) {
      stamp_[edges_[2 * k]] = epoch_;
      stamp_[edges_[2 * k + 1]] = epoch_;
    }
    // Count each vertex of b's ring once: a second stamp value marks those counted.
    const uint64_t counted = ++epoch_;
    int shared = 0;
    for (const Index k : ve_[b]) {
      for (int j = 0; j < 2; ++j) {
        const Index x = edges_[2 * k + j];
        if (x == a || x == b) continue;
        if (stamp_[x] == counted - 1) {
          stamp_[x] = counted;
          ++shared;
        }
      }
    }
    return shared == 2;
  }

  void pool_side(Index e, int side) {
    const FaceInfo f = face_info(e, side);
    const Index side_a = sd(e, side);
    const Index base = side_a - side_a % 2;
    const Index link0 = sd(f.key_b, f.other_b), link1 = sd(f.key_b, f.other_b + 1);
    redirect(f.key_a, base, f.keys_b[0], link0);
    redirect(f.key_a, base + 1, f.keys_b[1], link1);
    unite(f.key_b, f.key_a);
    unite(e, f.key_a);
    kill(f.key_b);
  }

  void merge_vertices(Index e) {
    const Index u = edges_[2 * e], w = edges_[2 * e + 1];
    for (int j = 0; j < 3; ++j) vertices_[3 * u + j] = (vertices_[3 * u + j] + vertices_[3 * w + j]) / 2;
    vertex_alive_[w] = 0;
    for (const Index k : ve_[w]) {
      for (int j = 0; j < 2; ++j)
        if (edges_[2 * k + j] == w) edges_[2 * k + j] = u;
    }
    if (official_ && num_edges_ > 0) {
      for (int j = 0; j < 2; ++j)
        if (edges_[j] == w) edges_[j] = u;
    }
    ve_[u].insert(ve_[u].end(), ve_[w].begin(), ve_[w].end());
    std::vector<Index>().swap(ve_[w]);
  }

  void redirect(Index a, Index side_a, Index b, Index side_b) {
    gemm_[4 * a + side_a] = b;
    gemm_[4 * b + side_b] = a;
    sides_[4 * a + side_a] = side_b;
    sides_[4 * b + side_b] = side_a;
  }

  // group[target] |= group[source] (both sorted, without repeats).
  void unite(Index source, Index target) {
    std::vector<Index>& into = groups_[target];
    const std::vector<Index>& from = groups_[source];
    merged_.clear();
    std::set_union(into.begin(), into.end(), from.begin(), from.end(), std::back_inserter(merged_));
    into.swap(merged_);
  }

  void kill(Index e, bool leave_lists = true) {
    alive_[e] = 0;
    --count_;
    std::vector<Index>().swap(groups_[e]);
    if (!leave_lists) return;
    for (int j = 0; j < 2; ++j) {
      const Index v = edges_[2 * e + j];
      if (j == 1 && v == edges_[2 * e]) break;
      std::vector<Index>& list = ve_[v];
      auto it = std::find(list.begin(), list.end(), e);
      if (it != list.end()) list.erase(it);
    }
  }

  bool official_;
  Index num_edges_, count_;
  std::vector<Index> edges_, gemm_, sides_;
  std::vector<uint8_t> alive_;
  std::vector<std::vector<Index>> groups_;
  std::vector<std::vector<Index>> ve_;
  std::vector<double> vertices_;
  std::vector<uint8_t> vertex_alive_;
  std::vector<uint64_t> stamp_;
  uint64_t epoch_ = 0;
  std::vector<Index> merged_;
};

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor,
           at::Tensor, at::Tensor>
edge_collapse_cpu(const at::Tensor& edges, const at::Tensor& gemm, const at::Tensor& sides,
                  const at::Tensor& priority, const at::Tensor& vertices,
                  const at::Tensor& edge_ptr, const at::Tensor& vertex_ptr,
                  const at::Tensor& targets, const at::Tensor& stale_refs, bool official) {
  check_long_2d(edges, "edges", 2);
  check_long_2d(gemm, "gemm", 4);
  check_long_2d(sides, "sides", 4);
  const int64_t num_edges = edges.size(0);
  TORCH_CHECK(gemm.size(0) == num_edges && sides.size(0) == num_edges,
              "geo3d: 'gemm' and 'sides' need one row per edge");
  TORCH_CHECK(priority.dim() == 1 && priority.size(0) == num_edges && priority.is_contiguous() &&
                  priority.device().is_cpu() &&
                  (priority.scalar_type() == at::kFloat || priority.scalar_type() == at::kDouble),
              "geo3d: expected contiguous float32/float64 CPU 'priority' of shape (", num_edges, ")");
  TORCH_CHECK(vertices.dim() == 2 && vertices.size(1) == 3 && vertices.device().is_cpu() &&
                  vertices.is_floating_point(),
              "geo3d: expected float CPU 'vertices' of shape (V, 3)");
  const int64_t batch = targets.size(0);
  TORCH_CHECK(targets.dim() == 1 && targets.scalar_type() == at::kLong && targets.is_contiguous() &&
                  targets.device().is_cpu(),
              "geo3d: expected contiguous int64 CPU 'targets' of shape (B,)");
  check_ptr(edge_ptr, "edge_ptr", batch, num_edges);
  check_ptr(vertex_ptr, "vertex_ptr", batch, vertices.size(0));
  const Index* eptr = edge_ptr.data_ptr<Index>();
  const Index* vptr = vertex_ptr.data_ptr<Index>();
  const Index* target = targets.data_ptr<Index>();
  for (int64_t b = 0; b < batch; ++b)
    TORCH_CHECK(target[b] >= 0, "geo3d: targets[", b, "] is negative");
  const bool single = priority.scalar_type() == at::kFloat;
  if (single) {
    const float* p = priority.data_ptr<float>();
    for (int64_t e = 0; e < num_edges; ++e)
      TORCH_CHECK(std::isfinite(p[e]), "geo3d: priority[", e, "] is not finite");
  } else {
    const double* p = priority.data_ptr<double>();
    for (int64_t e = 0; e < num_edges; ++e)
      TORCH_CHECK(std::isfinite(p[e]), "geo3d: priority[", e, "] is not finite");
  }
  check_topology(edges.data_ptr<Index>(), gemm.data_ptr<Index>(), sides.data_ptr<Index>(), eptr,
                 vptr, batch);
  TORCH_CHECK(stale_refs.dim() == 1 && stale_refs.size(0) == vertices.size(0) &&
                  stale_refs.scalar_type() == at::kLong && stale_refs.is_contiguous() &&
                  stale_refs.device().is_cpu(),
              "geo3d: expected contiguous int64 CPU 'stale_refs' of shape (", vertices.size(0), ")");
  const Index* stale = stale_refs.data_ptr<Index>();
  for (int64_t v = 0; v < vertices.size(0); ++v) {
    // A stale entry is a former incident edge: never more than the edges of the batch.
    TORCH_CHECK(stale[v] >= 0 && stale[v] <= 2 * num_edges + 2 * vertices.size(0),
                "geo3d: stale_refs[", v, "] = ", stale[v], " is not a plausible count");
    TORCH_CHECK(official || stale[v] == 0,
                "geo3d: 'stale_refs' is official bookkeeping: the exact variant takes none");
  }

  const at::Tensor xyz = vertices.to(at::kDouble).contiguous();
  std::vector<MeshResult> results(batch);
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const Index e0 = eptr[b], v0 = vptr[b];
      MeshCollapse mesh(edges.data_ptr<Index>() + 2 * e0, gemm.data_ptr<Index>() + 4 * e0,
                        sides.data_ptr<Index>() + 4 * e0, eptr[b + 1] - e0, e0, v0,
                        vptr[b + 1] - v0, xyz.data_ptr<double>() + 3 * v0, official,
                        stale + v0);
      mesh.run(single ? priority.data_ptr<float>() + e0 : nullptr,
               single ? nullptr : priority.data_ptr<double>() + e0, target[b]);
      results[b] = mesh.result();
    }
  });

  int64_t total_kept = 0, total_members = 0;
  for (const MeshResult& r : results) {
    total_kept += static_cast<int64_t>(r.kept.size());
    total_members += static_cast<int64_t>(r.member_rows.size() / 2);
  }
  const auto long_options = edges.options();
  at::Tensor kept = at::empty({total_kept}, long_options);
  at::Tensor new_edges = at::empty({total_kept, 2}, long_options);
  at::Tensor new_gemm = at::empty({total_kept, 4}, long_options);
  at::Tensor new_sides = at::empty({total_kept, 4}, long_options);
  at::Tensor members = at::empty({total_members, 2}, long_options);
  at::Tensor new_xyz = at::empty({vertices.size(0), 3}, xyz.options());
  at::Tensor alive = at::empty({vertices.size(0)}, vertices.options().dtype(at::kBool));
  at::Tensor counts = at::empty({batch}, long_options);
  at::Tensor stale_out = at::empty({vertices.size(0)}, long_options);
  Index out_offset = 0, member_offset = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const MeshResult& r = results[b];
    const Index e0 = eptr[b], v0 = vptr[b];
    const Index n = static_cast<Index>(r.kept.size());
    Index* k = kept.data_ptr<Index>() + out_offset;
    Index* ed = new_edges.data_ptr<Index>() + 2 * out_offset;
    Index* gm = new_gemm.data_ptr<Index>() + 4 * out_offset;
    Index* sd = new_sides.data_ptr<Index>() + 4 * out_offset;
    for (Index i = 0; i < n; ++i) {
      k[i] = r.kept[i] + e0;
      for (int j = 0; j < 2; ++j) ed[2 * i + j] = r.edges[2 * i + j] + v0;
      for (int j = 0; j < 4; ++j) {
        const Index g = r.gemm[4 * i + j];
        gm[4 * i + j] = g < 0 ? -1 : g + out_offset;
        sd[4 * i + j] = r.sides[4 * i + j];
      }
    }
    Index* mb = members.data_ptr<Index>() + 2 * member_offset;
    const Index m = static_cast<Index>(r.member_rows.size() / 2);
    for (Index i = 0; i < m; ++i) {
      mb[2 * i] = r.member_rows[2 * i] + e0;
      mb[2 * i + 1] = r.member_rows[2 * i + 1] + out_offset;
    }
    const Index nv = vptr[b + 1] - v0;
    std::copy(r.vertices.begin(), r.vertices.end(), new_xyz.data_ptr<double>() + 3 * v0);
    bool* al = alive.data_ptr<bool>() + v0;
    for (Index i = 0; i < nv; ++i) al[i] = r.vertex_alive[i] != 0;
    std::copy(r.stale.begin(), r.stale.end(), stale_out.data_ptr<Index>() + v0);
    counts.data_ptr<Index>()[b] = n;
    out_offset += n;
    member_offset += m;
  }
  return {kept, new_edges, new_gemm, new_sides, members, new_xyz.to(vertices.scalar_type()), alive,
          counts, stale_out};
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) { m.impl("edge_collapse", &edge_collapse_cpu); }

}  // namespace geo3d
