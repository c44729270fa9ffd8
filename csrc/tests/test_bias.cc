// column_sums (a Dense layer's bias gradient) against a naive loop.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/elementwise/bias.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

void check(int64_t rows, int64_t cols, int64_t pad, float beta, int threads, float alpha = 1.0f) {
  std::mt19937 rng(static_cast<uint32_t>(rows * 131 + cols));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t ld = cols + pad;
  std::vector<float> x(rows * ld + 1), out(cols);
  for (auto& v : x) v = dist(rng);
  for (auto& v : out) v = dist(rng);
  const std::vector<float> out0 = out;
  set_num_threads(threads);
  column_sums(x.data(), rows, cols, ld, beta, out.data(), alpha);
  set_num_threads(0);
  for (int64_t j = 0; j < cols; ++j) {
    double sum = 0;
    for (int64_t i = 0; i < rows; ++i) sum += x[i * ld + j];
    const double ref = beta * static_cast<double>(out0[j]) + alpha * sum;
    ASSERT_NEAR(out[j], ref, 1e-5 * (rows + 1)) << rows << "x" << cols << " col " << j;
  }
}

TEST(ColumnSums, MatchesNaiveLoop) {
  for (int64_t rows : {0, 1, 2, 7, 32, 255, 1000}) {
    for (int64_t cols : {1, 3, 10, 255, 256, 257, 300, 784}) {
      check(rows, cols, 0, 0.0f, 1);
    }
  }
}

TEST(ColumnSums, LeadingDimensionBetaAndThreads) {
  for (float beta : {0.0f, 1.0f, 0.5f}) {
    for (int threads : {1, 2, 3}) {
      check(64, 1000, 5, beta, threads);
      check(5000, 300, 1, beta, threads);
    }
  }
}

TEST(ColumnSums, ScaledSumsStepInPlace) {
  for (float alpha : {-0.01f, 2.0f}) {
    check(32, 300, 0, 1.0f, 2, alpha);
    check(3, 7, 2, 0.0f, 1, alpha);
  }
}

TEST(ColumnSums, ZeroColumnsIsANoOp) { column_sums(nullptr, 5, 0, 1, 0.0f, nullptr); }

}  // namespace
}  // namespace fastkeras
