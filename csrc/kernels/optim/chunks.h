// Splitting an optimizer's elementwise update over threads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/parallel.h"

namespace fastkeras::optim {

// Elements per scheduling unit: chunks handed to threads are multiples of this.
constexpr int64_t kGrain = 4096;

// Runs fn(begin, end) over [0, n), on several threads when the work is large enough.
template <typename Fn>
void for_chunks(int64_t n, double flops_per_element, Fn&& fn) {
  if (n <= 0) return;
  const int64_t blocks = (n + kGrain - 1) / kGrain;
  const int threads = threads_for(flops_per_element * static_cast<double>(n), blocks);
  if (threads <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  const int64_t blocks_per_thread = (blocks + threads - 1) / threads;
  run_parallel(threads, [&](int t) {
    const int64_t begin = std::min(n, t * blocks_per_thread * kGrain);
    const int64_t end = std::min(n, (t + 1) * blocks_per_thread * kGrain);
    if (begin < end) fn(begin, end);
  });
}

}  // namespace fastkeras::optim
