// A static 3D kd-tree over one point cloud, shared by FPS, kNN and ball query.
//
// Points are copied in tree order into structure-of-arrays buffers (x, y, z), so a
// leaf is a contiguous, vectorisable run; `original[slot]` maps back to the input index.
// Nodes are stored in preorder; each keeps the bounding box of its points, which gives
// a lower bound on the squared distance from any query to any point below it.
//
// Squared distances are always computed as (dx*dx + dy*dy) + dz*dz in the points' type
// with FMA contraction off (see setup.py), the same arithmetic as the Python references.
// The box bound uses the same operations on the box faces; IEEE rounding is monotone,
// so bound <= distance holds exactly for every point inside the box, and pruning on it
// never changes a result.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace geo3d {

template <typename T>
inline T squared_distance(T ax, T ay, T az, T bx, T by, T bz) {
  const T dx = ax - bx, dy = ay - by, dz = az - bz;
  return (dx * dx + dy * dy) + dz * dz;
}

template <typename T>
struct KdNode {
  T lo[3], hi[3];
  int32_t begin, end;         // slots [begin, end) in tree order
  int32_t left = -1, right = -1;  // children; -1 for a leaf

  bool leaf() const { return left < 0; }

  // Lower bound of the squared distance from (x, y, z) to any point of the box.
  T lower_bound(T x, T y, T z) const {
    const T gx = x < lo[0] ? lo[0] - x : (x > hi[0] ? x - hi[0] : T(0));
    const T gy = y < lo[1] ? lo[1] - y : (y > hi[1] ? y - hi[1] : T(0));
    const T gz = z < lo[2] ? lo[2] - z : (z > hi[2] ? z - hi[2] : T(0));
    return (gx * gx + gy * gy) + gz * gz;
  }
};

template <typename T>
struct KdTree {
  std::vector<T> x, y, z;             // coordinates in tree order
  std::vector<int64_t> original;      // tree slot -> input index
  std::vector<KdNode<T>> nodes;       // preorder; nodes[0] is the root

  KdTree() = default;

  // xyz: n rows of 3 values (row-major). leaf_size: the largest leaf.
  KdTree(const T* xyz, int64_t n, int leaf_size) { build(xyz, n, leaf_size); }

  void build(const T* xyz, int64_t n, int leaf_size) {
    original.resize(n);
    std::iota(original.begin(), original.end(), int64_t(0));
    nodes.clear();
    nodes.reserve(n > 0 ? 2 * (n / std::max(1, leaf_size / 2) + 1) : 1);
    if (n > 0) build_node(xyz, 0, static_cast<int32_t>(n), leaf_size);
    x.resize(n);
    y.resize(n);
    z.resize(n);
    for (int64_t s = 0; s < n; ++s) {
      const T* p = xyz + 3 * original[s];
      x[s] = p[0];
      y[s] = p[1];
      z[s] = p[2];
    }
  }

  int64_t size() const { return static_cast<int64_t>(original.size()); }

 private:
  int32_t build_node(const T* xyz, int32_t begin, int32_t end, int leaf_size) {
    const int32_t id = static_cast<int32_t>(nodes.size());
    nodes.emplace_back();
    KdNode<T> node;
    node.begin = begin;
    node.end = end;
    for (int a = 0; a < 3; ++a) {
      node.lo[a] = xyz[3 * original[begin] + a];
      node.hi[a] = node.lo[a];
    }
    for (int32_t s = begin + 1; s < end; ++s) {
      const T* p = xyz + 3 * original[s];
      for (int a = 0; a < 3; ++a) {
        node.lo[a] = std::min(node.lo[a], p[a]);
        node.hi[a] = std::max(node.hi[a], p[a]);
      }
    }
    if (end - begin > leaf_size) {
      int axis = 0;
      T extent = node.hi[0] - node.lo[0];
      for (int a = 1; a < 3; ++a) {
        if (node.hi[a] - node.lo[a] > extent) {
          extent = node.hi[a] - node.lo[a];
          axis = a;
        }
      }
      if (extent > T(0)) {  // all points equal: keep one (large) leaf
        const int32_t mid = begin + (end - begin) / 2;
        std::nth_element(original.begin() + begin, original.begin() + mid,
                         original.begin() + end, [&](int64_t i, int64_t j) {
                           return xyz[3 * i + axis] < xyz[3 * j + axis];
                         });
        node.left = build_node(xyz, begin, mid, leaf_size);
        node.right = build_node(xyz, mid, end, leaf_size);
      }
    }
    nodes[id] = node;
    return id;
  }
};

}  // namespace geo3d
