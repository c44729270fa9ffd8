#include "kernels/parallel.h"

#include <atomic>
#include <cstdlib>
#include <thread>

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace fastkeras {

namespace {

int default_threads() {
  if (const char* env = std::getenv("FASTKERAS_NUM_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 1024) return static_cast<int>(v);
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n >= 1 ? static_cast<int>(n) : 1;
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> setting{default_threads()};
  return setting;
}

}  // namespace

int num_threads() { return thread_setting().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  thread_setting().store(n >= 1 ? n : default_threads(), std::memory_order_relaxed);
}

int threads_for(double flops, int64_t max_parts) {
#if defined(_OPENMP)
  if (omp_in_parallel()) return 1;
#endif
  int64_t by_work = static_cast<int64_t>(flops / kMinFlopsPerThread);
  int64_t n = num_threads();
  if (by_work < n) n = by_work;
  if (max_parts < n) n = max_parts;
  return n < 1 ? 1 : static_cast<int>(n);
}

}  // namespace fastkeras
