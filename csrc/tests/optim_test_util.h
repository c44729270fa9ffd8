// Shared by the optimizer kernel tests: the sizes they run on, random vectors, and the
// comparison with a double-precision reference.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace fastkeras::optim::test {

using Vec = std::vector<float>;
using DVec = std::vector<double>;

// One element, an odd length, and sizes around and past a thread's block.
inline constexpr int64_t kSizes[] = {1, 7, 1000, 4097, 70001};
inline constexpr int kSteps = 4;

inline Vec random_vec(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Vec v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

inline DVec to_double(const Vec& v) { return DVec(v.begin(), v.end()); }

// |got - want| <= 2e-6 + rel * |want| element by element.
inline void expect_close(const Vec& got, const DVec& want, const char* what, int64_t n,
                         double rel = 2e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = 2e-6 + rel * std::fabs(want[i]);
    ASSERT_NEAR(got[i], want[i], tol) << what << " n=" << n << " i=" << i;
  }
}

}  // namespace fastkeras::optim::test
