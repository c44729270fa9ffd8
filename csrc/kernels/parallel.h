// The one place that owns threading: how many threads kernels may use, and when a piece of
// work is big enough to be worth splitting.
#pragma once

#include <cstdint>
#include <exception>
#include <mutex>

namespace fastkeras {

// Threads kernels may use. Starts at FASTKERAS_NUM_THREADS if set (>= 1), else the number of
// cores this process may run on.
int num_threads();
// n >= 1 sets the count; n <= 0 restores the default above.
void set_num_threads(int n);

// Work below this many floating-point operations runs on one thread: forking costs more.
constexpr double kMinFlopsPerThread = 2.0e5;

// Threads to use for `flops` of work that can be split into at most `max_parts` pieces;
// 1 when called from inside another parallel region.
int threads_for(double flops, int64_t max_parts);

// Runs fn(t) for t in [0, n) on `n` threads (n == 1 runs inline) and waits for all of them.
// An exception thrown by any of them is rethrown here, after all have finished.
template <typename Fn>
void run_parallel(int n, Fn&& fn) {
  if (n <= 1) {
    fn(0);
    return;
  }
  std::exception_ptr error;
  std::mutex error_mutex;
  auto guarded = [&](int t) {
    try {
      fn(t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  };
#if defined(_OPENMP)
#pragma omp parallel for num_threads(n) schedule(static, 1)
  for (int t = 0; t < n; ++t) guarded(t);
#else
  for (int t = 0; t < n; ++t) guarded(t);
#endif
  if (error) std::rethrow_exception(error);
}

}  // namespace fastkeras
