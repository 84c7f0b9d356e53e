// Exact k nearest neighbours on the CPU: a kd-tree per support cloud, searched
// nearest-child-first with an explicit stack, in parallel over queries (or clouds).
// Padded (B, N, 3) and packed (P, 3) + ptr batches share one kernel (cloud_layout.h).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <tuple>
#include <vector>

#include "../common/batch_parallel.h"
#include "../common/checks.h"
#include "../common/cloud_layout.h"
#include "../common/kdtree.h"

namespace geo3d {
namespace {

// 32 measured faster than 16 (and than 8 and 64) at 8k-64k points, k = 16-32.
constexpr int kLeafSize = 32;

// The k best (distance, index) pairs so far, ascending; ties to the lower index.
template <typename T>
struct TopK {
  T* dist;
  int64_t* index;
  int64_t k;
  int64_t count = 0;

  T worst() const { return count < k ? std::numeric_limits<T>::infinity() : dist[k - 1]; }

  void offer(T d, int64_t i) {
    if (count == k && !(d < dist[k - 1] || (d == dist[k - 1] && i < index[k - 1]))) return;
    int64_t pos = count < k ? count++ : k - 1;
    while (pos > 0 && (d < dist[pos - 1] || (d == dist[pos - 1] && i < index[pos - 1]))) {
      dist[pos] = dist[pos - 1];
      index[pos] = index[pos - 1];
      --pos;
    }
    dist[pos] = d;
    index[pos] = i;
  }
};

// A permutation of the n points that keeps nearby points together (kd-tree order).
template <typename T>
std::vector<int64_t> spatial_order(const T* xyz, int64_t n) {
  return KdTree<T>(xyz, n, 64).original;
}

// bound: a known upper bound of the k-th distance (no true neighbour lies beyond it).
template <typename T>
void search(const KdTree<T>& tree, T qx, T qy, T qz, T bound, TopK<T>& top,
            std::vector<std::pair<int32_t, T>>& stack) {
  stack.clear();
  stack.emplace_back(0, T(0));
  while (!stack.empty()) {
    const auto [id, node_bound] = stack.back();
    stack.pop_back();
    // A point at exactly the k-th distance may still win on index: prune only beyond it.
    if (node_bound > std::min(bound, top.worst())) continue;
    const KdNode<T>& node = tree.nodes[id];
    if (node.leaf()) {
      // Distances in chunks first (a vectorisable loop), then the few offers. A leaf
      // can exceed kLeafSize when its points coincide, hence the chunks.
      T d[kLeafSize];
      T worst = std::min(bound, top.worst());
      for (int32_t begin = node.begin; begin < node.end; begin += kLeafSize) {
        const int32_t count = std::min<int32_t>(kLeafSize, node.end - begin);
        const T* x = tree.x.data() + begin;
        const T* y = tree.y.data() + begin;
        const T* z = tree.z.data() + begin;
        for (int32_t s = 0; s < count; ++s) d[s] = squared_distance(x[s], y[s], z[s], qx, qy, qz);
        for (int32_t s = 0; s < count; ++s) {
          if (d[s] <= worst) {
            top.offer(d[s], tree.original[begin + s]);
            worst = std::min(bound, top.worst());
          }
        }
      }
      continue;
    }
    const T bl = tree.nodes[node.left].lower_bound(qx, qy, qz);
    const T br = tree.nodes[node.right].lower_bound(qx, qy, qz);
    if (bl <= br) {  // the nearer child is popped first
      stack.emplace_back(node.right, br);
      stack.emplace_back(node.left, bl);
    } else {
      stack.emplace_back(node.left, bl);
      stack.emplace_back(node.right, br);
    }
  }
}

// k nearest neighbours of every query cloud in its support cloud, for either layout;
// dist and idx rows follow the query layout, prefilled with inf and -1.
template <typename T>
void knn_clouds(const T* q, const CloudLayout& query_layout, const T* s,
                const CloudLayout& support_layout, int64_t batch, int64_t k, T* dist_data,
                int64_t* idx_data) {
  for_each_cloud(batch, [&](int64_t b, bool inner_parallel) {
    const int64_t qlen = query_layout.size(b), slen = support_layout.size(b);
    if (slen == 0 || qlen == 0) return;
    const T* queries = q + query_layout.begin(b) * 3;
    const T* cloud = s + support_layout.begin(b) * 3;
    T* cloud_dist = dist_data + query_layout.begin(b) * k;
    int64_t* cloud_idx = idx_data + query_layout.begin(b) * k;
    const KdTree<T> tree(cloud, slen, kLeafSize);
    // Neighbouring queries share neighbours: process them in spatial order, and bound
    // each search by the previous query's neighbours (the k-th smallest of k candidate
    // distances bounds the true k-th distance, so the search stays exact).
    const bool self_query = queries == cloud && qlen == slen;
    const std::vector<int64_t> order = self_query ? tree.original : spatial_order(queries, qlen);
    const bool can_bound = slen >= k;
    auto run = [&](int64_t begin, int64_t end) {
      std::vector<std::pair<int32_t, T>> stack;
      const int64_t* previous = nullptr;
      for (int64_t j = begin; j < end; ++j) {
        const int64_t i = order[j];
        const T* p = queries + i * 3;
        T bound = std::numeric_limits<T>::infinity();
        if (previous != nullptr && can_bound) {
          bound = T(0);
          for (int64_t c = 0; c < k; ++c) {
            const T* o = cloud + previous[c] * 3;
            bound = std::max(bound, squared_distance(o[0], o[1], o[2], p[0], p[1], p[2]));
          }
        }
        TopK<T> top{cloud_dist + i * k, cloud_idx + i * k, k};
        search(tree, p[0], p[1], p[2], bound, top, stack);
        previous = cloud_idx + i * k;
      }
    };
    if (inner_parallel) {
      at::parallel_for(0, qlen, 64, run);
    } else {
      run(0, qlen);
    }
    const int64_t base = support_layout.index_base(b);
    if (base != 0) {
      for (int64_t e = 0; e < qlen * k; ++e) {
        if (cloud_idx[e] >= 0) cloud_idx[e] += base;
      }
    }
  }, [&](int64_t b) { return support_layout.size(b) + query_layout.size(b); });
}

std::tuple<at::Tensor, at::Tensor> knn_cpu(const at::Tensor& query, const at::Tensor& support,
                                           const at::Tensor& query_lengths,
                                           const at::Tensor& support_lengths, int64_t k) {
  check_query_support(query, support, query_lengths, support_lengths);
  TORCH_CHECK(k >= 1, "geo3d: 'k' must be at least 1, got ", k);
  const int64_t batch = query.size(0), num_queries = query.size(1), n = support.size(1);
  at::Tensor dist = at::full({batch, num_queries, k}, std::numeric_limits<double>::infinity(),
                             query.options());
  at::Tensor idx = at::full({batch, num_queries, k}, -1, query.options().dtype(at::kLong));
  const CloudLayout query_layout =
      CloudLayout::padded(query_lengths.data_ptr<int64_t>(), num_queries);
  const CloudLayout support_layout = CloudLayout::padded(support_lengths.data_ptr<int64_t>(), n);
  AT_DISPATCH_FLOATING_TYPES(query.scalar_type(), "knn_cpu", [&] {
    knn_clouds(query.data_ptr<scalar_t>(), query_layout, support.data_ptr<scalar_t>(),
               support_layout, batch, k, dist.data_ptr<scalar_t>(), idx.data_ptr<int64_t>());
  });
  return {dist, idx};
}

std::tuple<at::Tensor, at::Tensor> knn_packed_cpu(const at::Tensor& query,
                                                  const at::Tensor& support,
                                                  const at::Tensor& query_ptr,
                                                  const at::Tensor& support_ptr, int64_t k) {
  check_packed_query_support(query, support, query_ptr, support_ptr);
  TORCH_CHECK(k >= 1, "geo3d: 'k' must be at least 1, got ", k);
  at::Tensor dist =
      at::full({query.size(0), k}, std::numeric_limits<double>::infinity(), query.options());
  at::Tensor idx = at::full({query.size(0), k}, -1, query.options().dtype(at::kLong));
  const CloudLayout query_layout = CloudLayout::packed(query_ptr.data_ptr<int64_t>());
  const CloudLayout support_layout = CloudLayout::packed(support_ptr.data_ptr<int64_t>());
  AT_DISPATCH_FLOATING_TYPES(query.scalar_type(), "knn_packed_cpu", [&] {
    knn_clouds(query.data_ptr<scalar_t>(), query_layout, support.data_ptr<scalar_t>(),
               support_layout, query_ptr.size(0) - 1, k, dist.data_ptr<scalar_t>(),
               idx.data_ptr<int64_t>());
  });
  return {dist, idx};
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) {
  m.impl("knn", &knn_cpu);
  m.impl("knn_packed", &knn_packed_cpu);
}

}  // namespace geo3d
