// The one place that owns threading: how many threads kernels may use, when a piece of work is
// big enough to be worth splitting, and the pool of worker threads that runs the pieces.
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
// 1 when called from inside a parallel region.
int threads_for(double flops, int64_t max_parts);

// Whether the calling thread is running a piece of a parallel region.
bool in_parallel_region();

namespace detail {

// A piece of work for the pool: fn(ctx, t) runs piece t.
using PieceFn = void (*)(void* ctx, int t);

// Runs pieces 0..n-1 of fn, piece 0 on the calling thread and the others on the pool's
// workers, and returns when all have finished. Pieces run one after another on the calling
// thread when the pool is busy (another thread's region) or n <= 1. Pieces must not throw.
void run_pieces(int n, PieceFn fn, void* ctx);

}  // namespace detail

// Runs fn(t) for t in [0, n) on `n` threads (n == 1 runs inline) and waits for all of them.
// An exception thrown by any of them is rethrown here, after all have finished.
template <typename Fn>
void run_parallel(int n, Fn&& fn) {
  if (n <= 1) {
    fn(0);
    return;
  }
  struct Context {
    Fn* fn;
    std::exception_ptr error;
    std::mutex error_mutex;
  } context{&fn, nullptr, {}};
  detail::run_pieces(
      n,
      [](void* p, int t) {
        auto* c = static_cast<Context*>(p);
        try {
          (*c->fn)(t);
        } catch (...) {
          std::lock_guard<std::mutex> lock(c->error_mutex);
          if (!c->error) c->error = std::current_exception();
        }
      },
      &context);
  if (context.error) std::rethrow_exception(context.error);
}

}  // namespace fastkeras
