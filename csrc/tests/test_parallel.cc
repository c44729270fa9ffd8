// The threading settings (the count, the environment variable, the work threshold) and the pool:
// every piece run once, errors thrown on worker threads, nested regions, many regions in a row,
// regions from several threads and in a forked child.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
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
  std::atomic<int> inner_threads{0};
  std::vector<std::atomic<int>> inner_hits(3);
  run_parallel(2, [&](int) {
    EXPECT_TRUE(in_parallel_region());
    if (threads_for(1e12, 100) == 1) inner_threads++;
    run_parallel(3, [&](int u) { inner_hits[u]++; });  // asked for directly: runs inline
  });
  EXPECT_FALSE(in_parallel_region());
  EXPECT_EQ(inner_threads.load(), 2);
  for (auto& h : inner_hits) EXPECT_EQ(h.load(), 2);
}

TEST(Parallel, ManyRegionsInARowRunEveryPieceOnce) {
  // Back to back (the workers spin between them), and after pauses long enough for the
  // workers to sleep, with piece counts that change from region to region.
  std::vector<int> counts(8, 0);
  for (int region = 0; region < 4000; ++region) {
    const int n = 1 + region % 4;
    std::vector<int> hits(n, 0);
    run_parallel(n, [&](int t) { hits[t]++; });
    for (int t = 0; t < n; ++t) ASSERT_EQ(hits[t], 1) << "region " << region;
    if (region % 1000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TEST(Parallel, RegionsFromSeveralThreadsAllComplete) {
  // Two threads' regions at once: one has the pool, the other runs its pieces itself.
  std::atomic<long> total{0};
  auto regions = [&] {
    for (int i = 0; i < 2000; ++i) {
      std::vector<std::atomic<int>> hits(4);
      run_parallel(4, [&](int t) { hits[t]++; });
      for (auto& h : hits) total += h.load();
    }
  };
  std::thread a(regions), b(regions);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2L * 2000 * 4);
}

TEST(Parallel, AChildProcessRunsRegionsOfItsOwn) {
  run_parallel(3, [](int) {});  // the parent's workers exist
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::vector<std::atomic<int>> hits(3);
    run_parallel(3, [&](int t) { hits[t]++; });
    _exit(hits[0] == 1 && hits[1] == 1 && hits[2] == 1 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace fastkeras
