// The threading settings: the count, the environment variable, the work threshold and errors
// thrown on worker threads.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "kernels/parallel.h"

namespace fastkeras {
namespace {

TEST(Parallel, SetAndResetThreadCount) {
  const int initial = num_threads();
  EXPECT_GE(initial, 1);
  set_num_threads(3);
  EXPECT_EQ(num_threads(), 3);
  set_num_threads(0);
  EXPECT_EQ(num_threads(), initial);
}

TEST(Parallel, SmallWorkStaysOnOneThread) {
  set_num_threads(4);
  EXPECT_EQ(threads_for(kMinFlopsPerThread / 2, 1000), 1);
  EXPECT_EQ(threads_for(kMinFlopsPerThread * 2.5, 1000), 2);
  EXPECT_EQ(threads_for(1e12, 1000), 4);
  EXPECT_EQ(threads_for(1e12, 3), 3);  // never more threads than pieces
  set_num_threads(0);
}

TEST(Parallel, RunsEveryIndexOnce) {
  std::vector<std::atomic<int>> hits(5);
  run_parallel(5, [&](int t) { hits[t]++; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(Parallel, WorkerExceptionIsRethrown) {
  EXPECT_THROW(run_parallel(3,
                            [](int t) {
                              if (t == 2) throw std::runtime_error("worker failed");
                            }),
               std::runtime_error);
}

TEST(Parallel, NestedRegionsRunSerially) {
#if defined(_OPENMP)
  std::atomic<int> inner_threads{0};
  run_parallel(2, [&](int) {
    if (threads_for(1e12, 100) == 1) inner_threads++;
  });
  EXPECT_EQ(inner_threads.load(), 2);
#endif
}

}  // namespace
}  // namespace fastkeras
