// Muon (momentum, Newton-Schulz on the GEMM, the scaled step), Schedule-Free AdamW and the
// multiplicative weight decay against naive double-precision loops over several steps, on
// awkward sizes: single elements, odd and prime dimensions, tall and wide matrices, sizes past a
// thread's block, and empty arrays.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/optim/muon_schedule_free.h"
#include "kernels/parallel.h"
#include "optim_test_util.h"

namespace fastkeras::optim {
namespace {

using test::DVec;
using test::expect_close;
using test::kSizes;
using test::kSteps;
using test::random_vec;
using test::to_double;
using test::Vec;

constexpr float kA = 3.4445f, kB = -4.7750f, kC = 2.0315f;

Vec grad_for(int64_t n, int step) { return random_vec(n, 900u + 17u * step + n, -1.0f, 1.0f); }

// The iteration in double, written the obvious way (explicit transposes, triple loops).
DVec naive_newton_schulz(const DVec& g, int64_t rows, int64_t cols, double a, double b, double c,
                         int steps, double eps) {
  const bool tr = rows > cols;
  const int64_t m = tr ? cols : rows, k = tr ? rows : cols;
  DVec x(m * k);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      if (tr) {
        x[j * k + i] = g[i * cols + j];
      } else {
        x[i * k + j] = g[i * cols + j];
      }
    }
  }
  double ss = 0;
  for (double v : x) ss += v * v;
  const double denom = std::sqrt(ss) + eps;
  for (double& v : x) v /= denom;
  for (int s = 0; s < steps; ++s) {
    DVec A(m * m, 0.0), B(m * m, 0.0), Y(m * k, 0.0);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        double acc = 0;
        for (int64_t t = 0; t < k; ++t) acc += x[i * k + t] * x[j * k + t];
        A[i * m + j] = acc;
      }
    }
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        double acc = 0;
        for (int64_t t = 0; t < m; ++t) acc += A[i * m + t] * A[t * m + j];
        B[i * m + j] = b * A[i * m + j] + c * acc;
      }
    }
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < k; ++j) {
        double acc = 0;
        for (int64_t t = 0; t < m; ++t) acc += B[i * m + t] * x[t * k + j];
        Y[i * k + j] = a * x[i * k + j] + acc;
      }
    }
    x = Y;
  }
  DVec out(rows * cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = tr ? x[j * k + i] : x[i * k + j];
  }
  return out;
}

struct Shape {
  int64_t rows, cols;
};
// Single element, a row, a column, odd/prime sizes both ways, square, and one large enough for
// the GEMM's threads and the element loops' blocks.
const Shape kShapes[] = {{1, 1},   {1, 7},   {7, 1},   {3, 5},   {5, 3},
                         {17, 17}, {13, 41}, {67, 29}, {96, 130}};

TEST(OptimNewtonSchulz, MatchesNaiveIteration) {
  for (const Shape& s : kShapes) {
    for (int steps : {0, 1, 5}) {
      const int64_t n = s.rows * s.cols;
      const Vec g = random_vec(n, 7u + static_cast<uint32_t>(n), -1.0f, 1.0f);
      Vec out(n, -99.0f);
      newton_schulz(g.data(), out.data(), s.rows, s.cols,
                    NewtonSchulzParams{kA, kB, kC, steps, 1e-7f});
      const DVec want = naive_newton_schulz(to_double(g), s.rows, s.cols, kA, kB, kC, steps, 1e-7);
      // Float GEMMs against double ones, through a polynomial that amplifies rounding a little.
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(out[i], want[i], 2e-5 + 1e-4 * std::fabs(want[i]))
            << s.rows << "x" << s.cols << " steps=" << steps << " i=" << i;
      }
    }
  }
}

TEST(OptimNewtonSchulz, ZeroMatrixStaysZero) {
  const Vec g(12, 0.0f);
  Vec out(12, 1.0f);
  newton_schulz(g.data(), out.data(), 3, 4, NewtonSchulzParams{kA, kB, kC, 5, 1e-7f});
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(OptimNewtonSchulz, SameResultOnOneThread) {
  const int64_t rows = 96, cols = 130, n = rows * cols;
  const Vec g = random_vec(n, 3, -1.0f, 1.0f);
  Vec many(n), one(n);
  newton_schulz(g.data(), many.data(), rows, cols, NewtonSchulzParams{kA, kB, kC, 5, 1e-7f});
  const int saved = num_threads();
  set_num_threads(1);
  newton_schulz(g.data(), one.data(), rows, cols, NewtonSchulzParams{kA, kB, kC, 5, 1e-7f});
  set_num_threads(saved);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(many[i], one[i]) << i;
}

TEST(OptimMuon, MatchesNaiveLoop) {
  struct Case {
    bool nesterov, adjust;
    int steps;
  };
  const Case cases[] = {{true, true, 5}, {false, false, 3}, {true, false, 0}};
  for (const Case& k : cases) {
    for (const Shape& s : kShapes) {
      const int64_t n = s.rows * s.cols;
      Vec var = random_vec(n, 21, -1, 1), m(n, 0.0f);
      DVec rvar = to_double(var), rm(n, 0.0);
      const double lr = 0.02, mu = 0.95, rate = 0.2;
      const double scale = std::sqrt(static_cast<double>(std::max(s.rows, s.cols)));
      for (int st = 0; st < kSteps; ++st) {
        const Vec g = grad_for(n, st);
        muon_update(var.data(), g.data(), m.data(), s.rows, s.cols,
                    MuonParams{float(lr), float(mu), float(mu - 1), k.nesterov,
                               NewtonSchulzParams{kA, kB, kC, k.steps, 1e-7f}, k.adjust,
                               float(scale), float(rate)});
        DVec u(n);
        for (int64_t i = 0; i < n; ++i) {
          rm[i] = rm[i] + (g[i] + rm[i] * (mu - 1));
          u[i] = k.nesterov ? g[i] + mu * rm[i] : rm[i];
        }
        const DVec o = naive_newton_schulz(u, s.rows, s.cols, kA, kB, kC, k.steps, 1e-7);
        for (int64_t i = 0; i < n; ++i) rvar[i] -= lr * o[i] * (k.adjust ? scale * rate : 1.0);
      }
      expect_close(m, rm, "muon m", n);
      expect_close(var, rvar, "muon var", n, 1e-4);
    }
  }
}

TEST(OptimMuon, EmptyMatrixIsANoOp) {
  float var = 1.0f, m = 2.0f;
  const float g = 3.0f;
  muon_update(&var, &g, &m, 0, 1,
              MuonParams{0.1f, 0.9f, -0.1f, true, NewtonSchulzParams{kA, kB, kC, 5, 1e-7f}, true,
                         1.0f, 0.2f});
  EXPECT_EQ(var, 1.0f);
  EXPECT_EQ(m, 2.0f);
}

TEST(OptimScheduleFreeAdamW, MatchesNaiveLoop) {
  for (bool updated : {true, false}) {
    for (int64_t n : kSizes) {
      Vec var = random_vec(n, 31, -1, 1), z = var, v(n, 0.0f);
      DVec ry = to_double(var), rz = ry, rv(n, 0.0);
      const double lr = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8;
      for (int st = 0; st < kSteps; ++st) {
        const Vec g = grad_for(n, st);
        const double t = st + 1, w = 1.0 / t, bc2 = 1 - std::pow(b2, t);
        schedule_free_adamw_update(
            var.data(), g.data(), z.data(), v.data(), n,
            ScheduleFreeAdamWParams{float(lr), float(1 - b2), float(bc2), float(eps), float(b1),
                                    float(1 - b1), float(w), float(1 - w), updated});
        for (int64_t i = 0; i < n; ++i) {
          const double z_old = rz[i];
          rv[i] += (double(g[i]) * g[i] - rv[i]) * (1 - b2);
          rz[i] -= lr * g[i] / (std::sqrt(rv[i] / bc2) + eps);
          const double x_old = (ry[i] - (1 - b1) * (updated ? rz[i] : z_old)) / b1;
          const double x_new = (1 - w) * x_old + w * rz[i];
          ry[i] = (1 - b1) * rz[i] + b1 * x_new;
        }
      }
      expect_close(v, rv, "sf v", n);
      expect_close(z, rz, "sf z", n, 1e-4);
      expect_close(var, ry, updated ? "sf var (updated z)" : "sf var (previous z)", n, 1e-4);
    }
  }
}

TEST(OptimScheduleFreeAdamW, ZeroLengthIsANoOp) {
  schedule_free_adamw_update(
      nullptr, nullptr, nullptr, nullptr, 0,
      ScheduleFreeAdamWParams{0.1f, 0.1f, 0.1f, 1e-8f, 0.9f, 0.1f, 1, 0, true});
  scale_weights(nullptr, 0, 0.5f);
}

TEST(OptimScaleWeights, MultipliesEveryElement) {
  for (int64_t n : kSizes) {
    Vec var = random_vec(n, 41, -2, 2);
    const Vec before = var;
    const float factor = 1.0f - 0.1f * 0.05f;
    scale_weights(var.data(), n, factor);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(var[i], before[i] * factor) << n << " " << i;
  }
}

}  // namespace
}  // namespace fastkeras::optim
