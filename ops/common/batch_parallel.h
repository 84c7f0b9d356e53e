// Run per-cloud work in parallel over the batch when there are enough clouds to keep
// every thread busy, else cloud after cloud with the parallelism inside each cloud.
#pragma once

#include <ATen/Parallel.h>

#include <cstdint>

namespace geo3d {

// fn(b, inner_parallel): inner_parallel is true when fn may itself use at::parallel_for.
template <typename Fn>
void for_each_cloud(int64_t batch, Fn&& fn) {
  if (batch >= 2 * at::get_num_threads()) {
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) fn(b, false);
    });
  } else {
    for (int64_t b = 0; b < batch; ++b) fn(b, true);
  }
}

}  // namespace geo3d
