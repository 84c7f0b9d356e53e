// Run per-cloud work in parallel over the batch when there are enough clouds to keep
// every thread busy, else cloud after cloud with the parallelism inside each cloud.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace geo3d {

// fn(b, inner_parallel): inner_parallel is true when fn may itself use at::parallel_for.
// cost(b) estimates cloud b's work: over clouds, the largest go first to
// whichever thread is free (clouds of a packed batch differ in size by several times, and
// equal shares of clouds would leave threads idle).
template <typename Fn, typename Cost>
void for_each_cloud(int64_t batch, Fn&& fn, Cost&& cost) {
  const int threads = at::get_num_threads();
  if (batch < 2 * threads) {
    for (int64_t b = 0; b < batch; ++b) fn(b, true);
    return;
  }
  std::vector<int64_t> order(batch);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return cost(a) > cost(b); });
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (int64_t j = 0; j < batch; ++j) fn(order[j], false);
}

}  // namespace geo3d
