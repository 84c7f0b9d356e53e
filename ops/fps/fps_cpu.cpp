// Exact farthest point sampling on the CPU.
//
// Each step must find the point with the largest distance to the selected set and
// lower every point's distance by the newly selected point. A kd-tree node stores the
// largest current distance below it (and where it is); when the new point's distance
// bound to the node's box is at least that maximum, no point below can get closer, so
// the whole subtree is skipped (the bucket pruning of QuickFPS, Han et al. 2023). Most
// of the cloud is skipped after the first few hundred steps.
//
// Parallelism: over clouds when there are several; for a large single cloud, the
// subtrees below the root are split among threads, which meet at one barrier per step.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <vector>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "../common/checks.h"
#include "../common/cloud_layout.h"
#include "../common/kdtree.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace geo3d {
namespace {

constexpr int kLeafSize = 32;
// Below this many points per cloud, the plain O(N M) loop beats building a tree.
constexpr int64_t kTreeThreshold = 2048;
// From this many points on, a single cloud is sampled by several threads.
constexpr int64_t kParallelThreshold = 32768;

// The best of two candidates: larger distance, then lower input index.
template <typename T>
struct Candidate {
  T dist;
  int64_t index;  // input index
  int32_t slot;   // tree slot

  bool beats(const Candidate& other) const {
    return dist > other.dist || (dist == other.dist && index < other.index);
  }
};

template <typename T>
struct TreeSampler {
  const KdTree<T>& tree;
  std::vector<T> dist;                 // per slot, current distance to the selected set
  std::vector<Candidate<T>> best;      // per node, the farthest point below it

  explicit TreeSampler(const KdTree<T>& t)
      : tree(t),
        dist(t.size(), std::numeric_limits<T>::infinity()),
        best(t.nodes.size(), Candidate<T>{std::numeric_limits<T>::infinity(), 0, 0}) {}

  // Lower the distances below `node` by the point (sx, sy, sz); refresh the maxima.
  void update(int32_t id, T sx, T sy, T sz) {
    const KdNode<T>& node = tree.nodes[id];
    if (node.lower_bound(sx, sy, sz) >= best[id].dist) return;  // nothing can change
    if (node.leaf()) {
      const T* x = tree.x.data();
      const T* y = tree.y.data();
      const T* z = tree.z.data();
      T* d = dist.data();
      T largest = -std::numeric_limits<T>::infinity();
      for (int32_t s = node.begin; s < node.end; ++s) {
        const T nd = squared_distance(x[s], y[s], z[s], sx, sy, sz);
        const T v = nd < d[s] ? nd : d[s];
        d[s] = v;
        largest = v > largest ? v : largest;
      }
      Candidate<T> c{largest, std::numeric_limits<int64_t>::max(), -1};
      for (int32_t s = node.begin; s < node.end; ++s) {
        if (d[s] == largest && tree.original[s] < c.index) {
          c.index = tree.original[s];
          c.slot = s;
        }
      }
      best[id] = c;
      return;
    }
    update(node.left, sx, sy, sz);
    update(node.right, sx, sy, sz);
    best[id] = best[node.right].beats(best[node.left]) ? best[node.right] : best[node.left];
  }
};

// One step of the plain loop: lowers every distance by the point (sx, sy, sz) and returns
// the largest.
template <typename T>
T lower_distances(const T* x, const T* y, const T* z, T* d, int64_t n, T sx, T sy, T sz) {
  T largest = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    const T nd = squared_distance(x[i], y[i], z[i], sx, sy, sz);
    const T v = nd < d[i] ? nd : d[i];
    d[i] = v;
    largest = v > largest ? v : largest;
  }
  return largest;
}

// The first index holding `value` (there is one).
template <typename T>
int64_t first_equal(const T* d, T value) {
  int64_t next = 0;
  while (d[next] != value) ++next;
  return next;
}

#ifdef __SSE2__
// float32 four at a time: the same operations in the same order ((dx dx + dy dy) + dz dz,
// then min and max, which round nothing), so the same values and the same choice. Inputs
// are finite (checked), where _mm_min_ps / _mm_max_ps agree with the compares above.
template <>
float lower_distances<float>(const float* x, const float* y, const float* z, float* d,
                             int64_t n, float sx, float sy, float sz) {
  const __m128 vx = _mm_set1_ps(sx), vy = _mm_set1_ps(sy), vz = _mm_set1_ps(sz);
  __m128 top = _mm_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m128 dx = _mm_sub_ps(_mm_loadu_ps(x + i), vx);
    const __m128 dy = _mm_sub_ps(_mm_loadu_ps(y + i), vy);
    const __m128 dz = _mm_sub_ps(_mm_loadu_ps(z + i), vz);
    const __m128 nd =
        _mm_add_ps(_mm_add_ps(_mm_mul_ps(dx, dx), _mm_mul_ps(dy, dy)), _mm_mul_ps(dz, dz));
    const __m128 v = _mm_min_ps(nd, _mm_loadu_ps(d + i));
    _mm_storeu_ps(d + i, v);
    top = _mm_max_ps(top, v);
  }
  float lanes[4];
  _mm_storeu_ps(lanes, top);
  float largest = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
  for (; i < n; ++i) {
    const float nd = squared_distance(x[i], y[i], z[i], sx, sy, sz);
    const float v = nd < d[i] ? nd : d[i];
    d[i] = v;
    largest = v > largest ? v : largest;
  }
  return largest;
}

template <>
int64_t first_equal<float>(const float* d, float value) {
  const __m128 target = _mm_set1_ps(value);
  int64_t i = 0;
  for (;; i += 4) {  // the value is there, so the loop ends before reading past it
    const int mask = _mm_movemask_ps(_mm_cmpeq_ps(_mm_loadu_ps(d + i), target));
    if (mask != 0) return i + __builtin_ctz(mask);
  }
}
#endif

template <typename T>
void fps_brute_force(const T* xyz, int64_t n, int64_t num_samples, int64_t start,
                     int64_t* out) {
  // Padded to a multiple of 4 with -1 (never the largest, never equal to it) so that the
  // vector search for the first maximum may read whole groups of four.
  const int64_t padded = (n + 3) / 4 * 4;
  std::vector<T> x(n), y(n), z(n), d(padded, T(-1));
  for (int64_t i = 0; i < n; ++i) {
    x[i] = xyz[3 * i];
    y[i] = xyz[3 * i + 1];
    z[i] = xyz[3 * i + 2];
    d[i] = std::numeric_limits<T>::infinity();
  }
  int64_t current = start;
  const int64_t steps = std::min(n, num_samples);
  for (int64_t step = 0; step < steps; ++step) {
    out[step] = current;
    const T largest = lower_distances(x.data(), y.data(), z.data(), d.data(), n, x[current],
                                      y[current], z[current]);
    current = first_equal(d.data(), largest);  // first maximum: ties to the lowest index
  }
}

template <typename T>
std::vector<int32_t> slot_of_index(const KdTree<T>& tree) {
  std::vector<int32_t> slot(tree.size());
  for (int64_t s = 0; s < tree.size(); ++s) slot[tree.original[s]] = static_cast<int32_t>(s);
  return slot;
}

template <typename T>
void fps_tree_serial(const T* xyz, int64_t n, int64_t num_samples, int64_t start,
                     int64_t* out) {
  KdTree<T> tree(xyz, n, kLeafSize);
  TreeSampler<T> sampler(tree);
  int32_t slot = slot_of_index(tree)[start];
  const int64_t steps = std::min(n, num_samples);
  for (int64_t step = 0; step < steps; ++step) {
    out[step] = tree.original[slot];
    sampler.update(0, tree.x[slot], tree.y[slot], tree.z[slot]);
    slot = sampler.best[0].slot;
  }
}

// Subtrees that together cover the tree, at least `want` of them where possible.
template <typename T>
std::vector<int32_t> split_roots(const KdTree<T>& tree, size_t want) {
  std::vector<int32_t> roots{0};
  while (roots.size() < want) {
    std::vector<int32_t> next;
    bool split_any = false;
    for (int32_t id : roots) {
      if (tree.nodes[id].leaf()) {
        next.push_back(id);
      } else {
        next.push_back(tree.nodes[id].left);
        next.push_back(tree.nodes[id].right);
        split_any = true;
      }
    }
    roots.swap(next);
    if (!split_any) break;
  }
  return roots;
}

template <typename T>
void fps_tree_parallel(const T* xyz, int64_t n, int64_t num_samples, int64_t start,
                       int64_t* out, int num_threads) {
  KdTree<T> tree(xyz, n, kLeafSize);
  TreeSampler<T> sampler(tree);
  const std::vector<int32_t> roots = split_roots(tree, 4 * static_cast<size_t>(num_threads));
  const int64_t steps = std::min(n, num_samples);
  // Double-buffered per-thread results: a thread writes step s into results[s % 2] while
  // the others may still read step s - 1 from the other half.
  std::vector<Candidate<T>> results(2 * num_threads);
  const int32_t first_slot = slot_of_index(tree)[start];

#ifdef _OPENMP
#pragma omp parallel num_threads(num_threads)
#endif
  {
#ifdef _OPENMP
    const int thread = omp_get_thread_num();
    const int threads = omp_get_num_threads();
#else
    const int thread = 0;
    const int threads = 1;
#endif
    const size_t lo = roots.size() * thread / threads;
    const size_t hi = roots.size() * (thread + 1) / threads;
    int32_t slot = first_slot;
    for (int64_t step = 0; step < steps; ++step) {
      if (thread == 0) out[step] = tree.original[slot];
      const T sx = tree.x[slot], sy = tree.y[slot], sz = tree.z[slot];
      Candidate<T> mine{-std::numeric_limits<T>::infinity(),
                        std::numeric_limits<int64_t>::max(), -1};
      for (size_t r = lo; r < hi; ++r) {
        sampler.update(roots[r], sx, sy, sz);
        if (sampler.best[roots[r]].beats(mine)) mine = sampler.best[roots[r]];
      }
      Candidate<T>* half = results.data() + (step % 2) * num_threads;
      half[thread] = mine;
#ifdef _OPENMP
#pragma omp barrier
#endif
      Candidate<T> winner = half[0];
      for (int t = 1; t < threads; ++t) {
        if (half[t].beats(winner)) winner = half[t];
      }
      slot = winner.slot;
    }
  }
}

template <typename T>
void fps_one_cloud(const T* xyz, int64_t n, int64_t num_samples, int64_t start, int64_t* out,
                   int num_threads) {
  if (n == 0 || num_samples == 0) return;
  if (n < kTreeThreshold) {
    fps_brute_force(xyz, n, num_samples, start, out);
  } else if (num_threads > 1 && n >= kParallelThreshold) {
    fps_tree_parallel(xyz, n, num_samples, start, out, num_threads);
  } else {
    fps_tree_serial(xyz, n, num_samples, start, out);
  }
}

// Samples every cloud of `points` into the rows of `samples` (out prefilled with -1):
// min(samples.size(b), points.size(b)) of them, as indices of the points' layout.
template <typename T>
void sample_clouds(const T* data, const CloudLayout& points, const CloudLayout& samples,
                   const int64_t* start, int64_t batch, int64_t* out) {
  auto one = [&](int64_t b, int threads) {
    int64_t* rows = out + samples.begin(b);
    const int64_t n = points.size(b), m = samples.size(b);
    fps_one_cloud(data + points.begin(b) * 3, n, m, start[b], rows, threads);
    const int64_t base = points.index_base(b);
    for (int64_t s = 0; s < std::min(n, m) && base != 0; ++s) rows[s] += base;
  };
  if (batch == 1) {
    one(0, at::get_num_threads());
    return;
  }
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) one(b, 1);
  });
}

at::Tensor farthest_point_sample_cpu(const at::Tensor& xyz, const at::Tensor& lengths,
                                     int64_t num_samples, const at::Tensor& start_idx) {
  TORCH_CHECK(xyz.device().is_cpu(), "geo3d: 'xyz' must be a CPU tensor here");
  check_fps_inputs(xyz, lengths, num_samples, start_idx);
  const int64_t batch = xyz.size(0), n = xyz.size(1);
  at::Tensor out = at::full({batch, num_samples}, -1, xyz.options().dtype(at::kLong));
  const CloudLayout points = CloudLayout::padded(lengths.data_ptr<int64_t>(), n);
  const CloudLayout samples = CloudLayout::padded(nullptr, num_samples);
  AT_DISPATCH_FLOATING_TYPES(xyz.scalar_type(), "farthest_point_sample_cpu", [&] {
    sample_clouds(xyz.data_ptr<scalar_t>(), points, samples, start_idx.data_ptr<int64_t>(),
                  batch, out.data_ptr<int64_t>());
  });
  return out;
}

at::Tensor farthest_point_sample_packed_cpu(const at::Tensor& xyz, const at::Tensor& ptr,
                                            const at::Tensor& sample_ptr, int64_t num_total,
                                            const at::Tensor& start_idx) {
  TORCH_CHECK(xyz.device().is_cpu(), "geo3d: 'xyz' must be a CPU tensor here");
  check_packed_fps_inputs(xyz, ptr, sample_ptr, start_idx);
  const int64_t batch = ptr.size(0) - 1;
  TORCH_CHECK(sample_ptr.data_ptr<int64_t>()[batch] == num_total, "geo3d: 'num_total' (",
              num_total, ") differs from 'sample_ptr'[-1] (", sample_ptr.data_ptr<int64_t>()[batch],
              ")");
  at::Tensor out = at::full({num_total}, -1, xyz.options().dtype(at::kLong));
  const CloudLayout points = CloudLayout::packed(ptr.data_ptr<int64_t>());
  const CloudLayout samples = CloudLayout::packed(sample_ptr.data_ptr<int64_t>());
  AT_DISPATCH_FLOATING_TYPES(xyz.scalar_type(), "farthest_point_sample_packed_cpu", [&] {
    sample_clouds(xyz.data_ptr<scalar_t>(), points, samples, start_idx.data_ptr<int64_t>(),
                  batch, out.data_ptr<int64_t>());
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(geo3d, CPU, m) {
  m.impl("farthest_point_sample", &farthest_point_sample_cpu);
  m.impl("farthest_point_sample_packed", &farthest_point_sample_packed_cpu);
}

}  // namespace geo3d
