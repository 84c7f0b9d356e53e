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
    if (n > 0) {
      T lo[3], hi[3];
      for (int a = 0; a < 3; ++a) lo[a] = hi[a] = records[0].c[a];
      for (int64_t s = 1; s < n; ++s) {
        for (int a = 0; a < 3; ++a) {
          lo[a] = std::min(lo[a], records[s].c[a]);
          hi[a] = std::max(hi[a], records[s].c[a]);
        }
      }
      build_node(records.data(), 0, static_cast<int32_t>(n), leaf_size, lo, hi);
    }
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
    tighten();
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
  // `boundary` gets a value v with every record of [begin, split) <= v <= every record of
  // [split, end) on `axis`.
  static int32_t split(Record* records, int32_t begin, int32_t end, int axis, T& boundary) {
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
      if (at > begin + count / 8 && at < end - count / 8) {
        boundary = pivot;
        return at;
      }
    }
    const int32_t mid = begin + count / 2;
    std::nth_element(records + begin, records + mid, records + end, less);
    boundary = records[mid].c[axis];
    return mid;
  }

  // Builds the subtree of records [begin, end) inside the cell [lo, hi] (a box that holds
  // them: the parent's cell cut at the split, not always the tightest) and returns its id.
  // Splits follow the cell's widest axis; the tight boxes the searches prune with are set
  // afterwards, bottom up (tighten), so the build makes one pass over the records per level
  // (the partition) instead of two.
  int32_t build_node(Record* records, int32_t begin, int32_t end, int leaf_size, const T* lo,
                     const T* hi) {
    KdNode<T> node;
    node.begin = begin;
    node.end = end;
    const int32_t id = static_cast<int32_t>(nodes.size());
    nodes.push_back(node);
    if (end - begin <= leaf_size) return id;
    int axis = 0;
    for (int a = 1; a < 3; ++a) {
      if (hi[a] - lo[a] > hi[axis] - lo[axis]) axis = a;
    }
    if (!(hi[axis] - lo[axis] > T(0))) return id;  // a cell of zero size: all points equal
    T boundary;
    const int32_t mid = split(records, begin, end, axis, boundary);
    T left_hi[3] = {hi[0], hi[1], hi[2]}, right_lo[3] = {lo[0], lo[1], lo[2]};
    left_hi[axis] = boundary;
    right_lo[axis] = boundary;
    const int32_t left = build_node(records, begin, mid, leaf_size, lo, left_hi);
    const int32_t right = build_node(records, mid, end, leaf_size, right_lo, hi);
    nodes[id].left = left;
    nodes[id].right = right;
    return id;
  }

  // Every node's box: its points' bounding box (leaves from the points, inner nodes as the
  // union of their children; children come after their parent in preorder).
  void tighten() {
    for (int64_t id = static_cast<int64_t>(nodes.size()) - 1; id >= 0; --id) {
      KdNode<T>& node = nodes[id];
      if (node.leaf()) {
        node.lo[0] = node.hi[0] = x[node.begin];
        node.lo[1] = node.hi[1] = y[node.begin];
        node.lo[2] = node.hi[2] = z[node.begin];
        for (int32_t s = node.begin + 1; s < node.end; ++s) {
          node.lo[0] = std::min(node.lo[0], x[s]);
          node.hi[0] = std::max(node.hi[0], x[s]);
          node.lo[1] = std::min(node.lo[1], y[s]);
          node.hi[1] = std::max(node.hi[1], y[s]);
          node.lo[2] = std::min(node.lo[2], z[s]);
          node.hi[2] = std::max(node.hi[2], z[s]);
        }
        continue;
      }
      const KdNode<T>& l = nodes[node.left];
      const KdNode<T>& r = nodes[node.right];
      for (int a = 0; a < 3; ++a) {
        node.lo[a] = std::min(l.lo[a], r.lo[a]);
        node.hi[a] = std::max(l.hi[a], r.hi[a]);
      }
    }
  }
};

}  // namespace geo3d
