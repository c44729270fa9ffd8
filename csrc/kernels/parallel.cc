#include "kernels/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace fastkeras {

namespace {

constexpr int kMaxThreads = 1024;

int default_threads() {
  if (const char* env = std::getenv("FASTKERAS_NUM_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= kMaxThreads) return static_cast<int>(v);
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

thread_local bool t_in_region = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// How long a thread with nothing to do spins before it sleeps. Long enough to bridge the gaps
// between the kernels of one training step (a few to a few tens of microseconds of Python),
// short enough that an idle pool gives its cores back to other work almost at once: a thread
// that spins while the machine is busy takes a core from the very work it waits for.
constexpr auto kSpin = std::chrono::microseconds(100);

// Spins until done() or kSpin has passed; returns done().
template <typename Done>
bool spin_until(Done&& done) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 63) == 0 && std::chrono::steady_clock::now() - start > kSpin) return done();
  }
}

// Worker threads that run the pieces of parallel regions. The caller of a region runs piece 0
// and worker w runs piece w + 1. A region is published by a new value of `region_`: a count of
// regions with the number of pieces in its low bits, so a worker without a piece never reads
// the region's other fields (and the caller may rewrite them as soon as the workers with pieces
// are done). Waiting threads spin briefly, then sleep on a condition variable; the
// `sleepers_`/`caller_sleeping_` counts tell the other side whether it must wake them (both
// sides use sequentially consistent operations, so one of them always sees the other).
class Pool {
 public:
  // false when another thread's region holds the pool: the caller then runs the pieces itself.
  bool run(int n, detail::PieceFn fn, void* ctx) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    grow(n - 1);
    fn_ = fn;
    ctx_ = ctx;
    pending_.store(n - 1, std::memory_order_relaxed);
    const uint64_t count = (region_.load(std::memory_order_relaxed) >> kPieceBits) + 1;
    region_.store((count << kPieceBits) | static_cast<uint64_t>(n), std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      work_ready_.notify_all();
    }
    t_in_region = true;
    fn(ctx, 0);
    t_in_region = false;
    wait_for_workers();
    return true;
  }

 private:
  void grow(int wanted) {
    while (static_cast<int>(workers_) < wanted) {
      const int index = static_cast<int>(workers_);
      const uint64_t seen = region_.load(std::memory_order_relaxed);
      std::thread([this, index, seen] { work(index, seen); }).detach();
      ++workers_;
    }
  }

  void work(int index, uint64_t seen) {
    t_in_region = true;  // a piece that asks for threads runs its work itself
    for (;;) {
      seen = wait_for_region(seen);
      if (static_cast<int64_t>(index) + 1 >= static_cast<int64_t>(seen & kPieceMask)) continue;
      fn_(ctx_, index + 1);
      if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
          caller_sleeping_.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(mutex_);
        work_done_.notify_one();
      }
    }
  }

  uint64_t wait_for_region(uint64_t seen) {
    auto fresh = [&] { return region_.load(std::memory_order_seq_cst) != seen; };
    if (!spin_until(fresh)) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      work_ready_.wait(lock, fresh);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    }
    return region_.load(std::memory_order_seq_cst);
  }

  void wait_for_workers() {
    auto done = [&] { return pending_.load(std::memory_order_seq_cst) == 0; };
    if (spin_until(done)) return;
    std::unique_lock<std::mutex> lock(mutex_);
    caller_sleeping_.store(true, std::memory_order_seq_cst);
    work_done_.wait(lock, done);
    caller_sleeping_.store(false, std::memory_order_seq_cst);
  }

  std::mutex run_mutex_;  // one region at a time
  size_t workers_ = 0;    // (changed only under run_mutex_)
  // The region: written by its caller before `region_` changes, read by the workers with a
  // piece after they see the change.
  static constexpr int kPieceBits = 16;
  static constexpr uint64_t kPieceMask = (uint64_t{1} << kPieceBits) - 1;
  detail::PieceFn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<uint64_t> region_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::mutex mutex_;
  std::condition_variable work_ready_, work_done_;
};

// The process's pool, created on first use and never destroyed (its threads may be waiting in
// it when the process exits). A child process made by fork() has none of the parent's threads:
// it starts a pool of its own.
std::atomic<Pool*> g_pool{nullptr};
std::mutex g_pool_mutex;

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  p = g_pool.load(std::memory_order_relaxed);
  if (!p) {
#if defined(__linux__)
    static const int registered =
        pthread_atfork(nullptr, nullptr, [] { g_pool.store(nullptr, std::memory_order_relaxed); });
    (void)registered;
#endif
    p = new Pool();
    g_pool.store(p, std::memory_order_release);
  }
  return *p;
}

}  // namespace

int num_threads() { return thread_setting().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  thread_setting().store(n >= 1 ? std::min(n, kMaxThreads) : default_threads(),
                         std::memory_order_relaxed);
}

bool in_parallel_region() { return t_in_region; }

int threads_for(double flops, int64_t max_parts) {
  if (t_in_region) return 1;
  int64_t by_work = static_cast<int64_t>(flops / kMinFlopsPerThread);
  int64_t n = num_threads();
  if (by_work < n) n = by_work;
  if (max_parts < n) n = max_parts;
  return n < 1 ? 1 : static_cast<int>(n);
}

namespace detail {

void run_pieces(int n, PieceFn fn, void* ctx) {
  if (n > 1 && !t_in_region && pool().run(n, fn, ctx)) return;
  const bool outer = !t_in_region;
  t_in_region = true;
  for (int t = 0; t < n; ++t) fn(ctx, t);
  if (outer) t_in_region = false;
}

}  // namespace detail

}  // namespace fastkeras
