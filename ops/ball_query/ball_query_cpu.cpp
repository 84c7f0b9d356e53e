// Ball query on the CPU: collect every support point strictly inside the ball with a
// kd-tree, then keep the max_neighbors lowest indices (the index-order semantics of
// PointNet++'s scan, without its O(N) scan per query).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../common/batch_parallel.h"
#include "../common/checks.h"
#include "../common/kdtree.h"

namespace geo3d {
namespace {

constexpr int kLeafSize = 16;

template <typename T>
void collect(const KdTree<T>& tree, T qx, T qy, T qz, T r2, std::vector<int64_t>& found,
             std::vector<int32_t>& stack) {
  found.clear();
  stack.clear();
  stack.push_back(0);
  while (!stack.empty()) {
    const KdNode<T>& node = tree.nodes[stack.back()];
    stack.pop_back();
    if (!(node.lower_bound(qx, qy, qz) < r2)) continue;
    if (node.leaf()) {
      for (int32_t s = node.begin; s < node.end; ++s) {
        if (squared_distance(tree.x[s], tree.y[s], tree.z[s], qx, qy, qz) < r2) {
          found.push_back(tree.original[s]);
        }
      }
    } else {
      stack.push_back(node.right);
      stack.push_back(node.left);
    }
  }
}

at::Tensor ball_query_cpu(const at::Tensor& query, const at::Tensor& support,
                          const at::Tensor& query_lengths, const at::Tensor& support_lengths,
                          double radius, int64_t max_neighbors) {
  check_query_support(query, support, query_lengths, support_lengths);
  TORCH_CHECK(radius > 0, "geo3d: 'radius' must be positive, got ", radius);
  TORCH_CHECK(max_neighbors >= 1, "geo3d: 'max_neighbors' must be at least 1");
  const int64_t batch = query.size(0), num_queries = query.size(1), n = support.size(1);

  at::Tensor idx = at::full({batch, num_queries, max_neighbors}, -1,
                            query.options().dtype(at::kLong));
  const int64_t* qlen = query_lengths.data_ptr<int64_t>();
  const int64_t* slen = support_lengths.data_ptr<int64_t>();
  int64_t* out = idx.data_ptr<int64_t>();

  AT_DISPATCH_FLOATING_TYPES(query.scalar_type(), "ball_query_cpu", [&] {
    // radius ** 2 in double, then rounded to the points' dtype, as the reference does.
    const scalar_t r2 = static_cast<scalar_t>(radius * radius);
    const scalar_t* q = query.data_ptr<scalar_t>();
    const scalar_t* s = support.data_ptr<scalar_t>();
    for_each_cloud(batch, [&](int64_t b, bool inner_parallel) {
      if (slen[b] == 0 || qlen[b] == 0) return;
      const KdTree<scalar_t> tree(s + b * n * 3, slen[b], kLeafSize);
      auto run = [&](int64_t begin, int64_t end) {
        std::vector<int64_t> found;
        std::vector<int32_t> stack;
        for (int64_t i = begin; i < end; ++i) {
          const scalar_t* p = q + (b * num_queries + i) * 3;
          collect(tree, p[0], p[1], p[2], r2, found, stack);
          const int64_t keep = std::min<int64_t>(max_neighbors, found.size());
          if (static_cast<int64_t>(found.size()) > keep) {
            std::nth_element(found.begin(), found.begin() + keep, found.end());
          }
          std::sort(found.begin(), found.begin() + keep);
          std::copy(found.begin(), found.begin() + keep,
                    out + (b * num_queries + i) * max_neighbors);
        }
      };
      if (inner_parallel) {
        at::parallel_for(0, qlen[b], 64, run);
      } else {
        run(0, qlen[b]);
      }
    }, [&](int64_t b) { return slen[b] + qlen[b]; });
  });
  return idx;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) { m.impl("ball_query", &ball_query_cpu); }

}  // namespace geo3d
