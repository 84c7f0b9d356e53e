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
    // Partition an array of (x, y, z, index) records in place: contiguous memory, no
    // indirection through the input while selecting medians.
    std::vector<Record> records(n);
    for (int64_t i = 0; i < n; ++i) {
      records[i] = Record{{xyz[3 * i], xyz[3 * i + 1], xyz[3 * i + 2]}, i};
    }
    nodes.clear();
    nodes.reserve(n > 0 ? 2 * (n / std::max(1, leaf_size / 2) + 1) : 1);
    if (n > 0) build_node(records.data(), 0, static_cast<int32_t>(n), leaf_size);
    x.resize(n);
    y.resize(n);
    z.resize(n);
    original.resize(n);
    for (int64_t s = 0; s < n; ++s) {
      x[s] = records[s].c[0];
      y[s] = records[s].c[1];
      z[s] = records[s].c[2];
      original[s] = records[s].index;
    }
  }

  int64_t size() const { return static_cast<int64_t>(original.size()); }

 private:
  struct Record {
    T c[3];
    int64_t index;
  };

  // Splits [begin, end) on `axis` near the median and returns the split point. Large ranges
  // partition around the median of a strided sample (one pass; std::nth_element's
  // introselect costs several times more and dominated the build); small ranges, and
  // samples that fail to split, use the exact median.
  static int32_t split(Record* records, int32_t begin, int32_t end, int axis) {
    const int32_t count = end - begin;
    auto less = [axis](const Record& a, const Record& b) { return a.c[axis] < b.c[axis]; };
    if (count >= 1024) {
      constexpr int kSample = 63;
      T sample[kSample];
      for (int i = 0; i < kSample; ++i) {
        sample[i] = records[begin + static_cast<int64_t>(count) * (2 * i + 1) / (2 * kSample)].c[axis];
      }
      std::nth_element(sample, sample + kSample / 2, sample + kSample);
      const T pivot = sample[kSample / 2];
      Record* cut = std::partition(records + begin, records + end,
                                   [&](const Record& r) { return r.c[axis] < pivot; });
      if (cut == records + begin) {
        cut = std::partition(records + begin, records + end,
                             [&](const Record& r) { return r.c[axis] <= pivot; });
      }
      const int32_t at = static_cast<int32_t>(cut - records);
      if (at > begin + count / 8 && at < end - count / 8) return at;
    }
    const int32_t mid = begin + count / 2;
    std::nth_element(records + begin, records + mid, records + end, less);
    return mid;
  }

  // Builds the subtree of records [begin, end) given their bounding box; returns its id.
  int32_t build_node(Record* records, int32_t begin, int32_t end, int leaf_size) {
    KdNode<T> node;
    node.begin = begin;
    node.end = end;
    for (int a = 0; a < 3; ++a) node.lo[a] = node.hi[a] = records[begin].c[a];
    for (int32_t s = begin + 1; s < end; ++s) {
      for (int a = 0; a < 3; ++a) {
        node.lo[a] = std::min(node.lo[a], records[s].c[a]);
        node.hi[a] = std::max(node.hi[a], records[s].c[a]);
      }
    }
    const int32_t id = static_cast<int32_t>(nodes.size());
    nodes.push_back(node);
    if (end - begin <= leaf_size) return id;
    int axis = 0;
    for (int a = 1; a < 3; ++a) {
      if (node.hi[a] - node.lo[a] > node.hi[axis] - node.lo[axis]) axis = a;
    }
    if (!(node.hi[axis] - node.lo[axis] > T(0))) return id;  // all points equal: one leaf
    const int32_t mid = split(records, begin, end, axis);
    const int32_t left = build_node(records, begin, mid, leaf_size);
    const int32_t right = build_node(records, mid, end, leaf_size);
    nodes[id].left = left;
    nodes[id].right = right;
    return id;
  }
};

}  // namespace geo3d
