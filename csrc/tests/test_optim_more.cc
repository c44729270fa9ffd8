// Lion, FTRL, Lamb and Adafactor kernels against naive double-precision loops of the same
// rules over several steps, on awkward sizes (1, odd lengths, sizes just past a scheduling
// block, zero), plus checks that the reductions do not depend on the thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/optim/optim.h"
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

Vec grad_for(int64_t n, int step) { return random_vec(n, 500u + 31u * step + n, -1.0f, 1.0f); }

TEST(OptimLion, MatchesNaiveLoop) {
  for (int64_t n : kSizes) {
    Vec var = random_vec(n, 11, -1, 1), m(n, 0.0f);
    DVec rvar = to_double(var), rm(n, 0.0);
    const double lr = 0.01, b1 = 0.9, b2 = 0.99;
    for (int s = 0; s < kSteps; ++s) {
      const Vec g = grad_for(n, s);
      lion_update(var.data(), g.data(), m.data(), n,
                  LionParams{float(lr), float(b1), float(1 - b1), float(b2), float(1 - b2)});
      for (int64_t i = 0; i < n; ++i) {
        const double c = rm[i] * b1 + g[i] * (1 - b1);
        rvar[i] -= lr * ((c > 0) - (c < 0));
        rm[i] = rm[i] * b2 + g[i] * (1 - b2);
      }
    }
    expect_close(var, rvar, "lion var", n);
    expect_close(m, rm, "lion m", n);
  }
}

TEST(OptimLion, SignOfZeroIsZero) {
  float var = 1.0f, m = 0.0f;
  const float g = 0.0f;
  lion_update(&var, &g, &m, 1, LionParams{0.5f, 0.9f, 0.1f, 0.99f, 0.01f});
  EXPECT_EQ(var, 1.0f);
  EXPECT_EQ(m, 0.0f);
}

TEST(OptimFtrl, MatchesNaiveLoop) {
  struct Case {
    double lr_power, l1, l2, shrinkage, beta;
  };
  const Case cases[] = {{-0.5, 0.0, 0.0, 0.0, 0.0},
                        {-0.5, 0.01, 0.02, 0.03, 0.1},
                        {-0.7, 0.001, 0.0, 0.0, 0.0},
                        {0.0, 0.0, 0.01, 0.0, 0.0}};
  for (const Case& k : cases) {
    for (int64_t n : kSizes) {
      Vec var = random_vec(n, 12, -1, 1), acc(n, 0.1f), lin(n, 0.0f);
      DVec rvar = to_double(var), racc(n, double(0.1f)), rlin(n, 0.0);
      const double lr = 0.05, p = -k.lr_power;
      const double two_l2 = 2 * (k.l2 + k.beta / (2 * lr));
      for (int s = 0; s < kSteps; ++s) {
        const Vec g = grad_for(n, s);
        ftrl_update(
            var.data(), g.data(), acc.data(), lin.data(), n,
            FtrlParams{float(lr), float(p), float(2 * k.shrinkage), float(k.l1), float(two_l2)});
        for (int64_t i = 0; i < n; ++i) {
          const double g2 = g[i] + 2 * k.shrinkage * rvar[i];
          const double acc_new = racc[i] + double(g[i]) * g[i];
          const double pn = std::pow(acc_new, p), po = std::pow(racc[i], p);
          rlin[i] += g2 - (pn - po) / lr * rvar[i];
          const double quadratic = pn / lr + two_l2;
          const double clipped = std::min(std::max(rlin[i], -k.l1), k.l1);
          rvar[i] = (clipped - rlin[i]) / quadratic;
          racc[i] = acc_new;
        }
      }
      expect_close(var, rvar, "ftrl var", n, 1e-4);
      expect_close(acc, racc, "ftrl accumulator", n);
      expect_close(lin, rlin, "ftrl linear", n, 1e-4);
    }
  }
}

TEST(OptimLamb, MatchesNaiveLoop) {
  for (int64_t n : kSizes) {
    Vec var = random_vec(n, 13, -1, 1), m(n, 0.0f), v(n, 0.0f);
    DVec rvar = to_double(var), rm(n, 0.0), rv(n, 0.0);
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-7;
    for (int s = 0; s < kSteps; ++s) {
      const Vec g = grad_for(n, s);
      const double b1p = 1 - std::pow(b1, s + 1), b2p = 1 - std::pow(b2, s + 1);
      lamb_update(
          var.data(), g.data(), m.data(), v.data(), n,
          LambParams{float(lr), float(1 - b1), float(1 - b2), float(b1p), float(b2p), float(eps)});
      DVec u(n);
      double sw = 0, su = 0;
      for (int64_t i = 0; i < n; ++i) {
        rm[i] += (g[i] - rm[i]) * (1 - b1);
        rv[i] += (double(g[i]) * g[i] - rv[i]) * (1 - b2);
        u[i] = (rm[i] / b1p) / (std::sqrt(rv[i] / b2p) + eps);
        sw += rvar[i] * rvar[i];
        su += u[i] * u[i];
      }
      const double w_norm = std::sqrt(sw), u_norm = std::sqrt(su);
      const double ratio = (w_norm > 0 && u_norm > 0) ? w_norm / u_norm : 1.0;
      for (int64_t i = 0; i < n; ++i) rvar[i] -= ratio * lr * u[i];
    }
    expect_close(var, rvar, "lamb var", n, 1e-4);
    expect_close(m, rm, "lamb m", n);
    expect_close(v, rv, "lamb v", n);
  }
}

TEST(OptimLamb, ZeroVariableUsesRatioOne) {
  Vec var(5, 0.0f), m(5, 0.0f), v(5, 0.0f);
  const Vec g = {1, -1, 0.5f, 0, 2};
  lamb_update(var.data(), g.data(), m.data(), v.data(), 5,
              LambParams{0.1f, 0.1f, 0.001f, 0.1f, 0.001f, 1e-7f});
  // First step: u = g / (|g| + eps') = sign(g) to rounding, ratio 1.
  for (int i = 0; i < 5; ++i) {
    const float want = g[i] == 0 ? 0.0f : (g[i] > 0 ? -0.1f : 0.1f);
    EXPECT_NEAR(var[i], want, 1e-6) << i;
  }
}

// Naive Adafactor over [batch, rows, cols] (factored) or flat (unfactored), in double.
void adafactor_reference(DVec& var, const Vec& g, DVec& r, DVec& c, DVec& v, int64_t batch,
                         int64_t rows, int64_t cols, bool factored, double rho, double eps1,
                         double eps2, double beta, double clip) {
  const int64_t n = batch * rows * cols;
  double sw = 0;
  for (double w : var) sw += w * w;
  const double alpha = std::max(eps2, std::sqrt(sw / n)) * rho;
  if (factored) {
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < rows; ++i) {
        double mean = 0;
        for (int64_t j = 0; j < cols; ++j) {
          const double x = g[(b * rows + i) * cols + j];
          mean += x * x + eps1;
        }
        r[b * rows + i] = beta * r[b * rows + i] + (1 - beta) * (mean / cols);
      }
      for (int64_t j = 0; j < cols; ++j) {
        double mean = 0;
        for (int64_t i = 0; i < rows; ++i) {
          const double x = g[(b * rows + i) * cols + j];
          mean += x * x + eps1;
        }
        c[b * cols + j] = beta * c[b * cols + j] + (1 - beta) * (mean / rows);
      }
      double r_mean = 0;
      for (int64_t i = 0; i < rows; ++i) r_mean += r[b * rows + i];
      r_mean /= rows;
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) {
          v[(b * rows + i) * cols + j] = r[b * rows + i] / r_mean * c[b * cols + j];
        }
      }
    }
  } else {
    for (int64_t i = 0; i < n; ++i) v[i] = beta * v[i] + (1 - beta) * (double(g[i]) * g[i] + eps1);
  }
  double su = 0;
  for (int64_t i = 0; i < n; ++i) su += double(g[i]) * g[i] / v[i];
  const double denom = std::max(1.0, std::sqrt(su / n) / clip);
  for (int64_t i = 0; i < n; ++i) var[i] -= alpha * (g[i] / std::sqrt(v[i]) / denom);
}

void run_adafactor_case(int64_t batch, int64_t rows, int64_t cols, bool factored, double clip) {
  const int64_t n = batch * rows * cols;
  Vec var = random_vec(n, 14, -1, 1), v(n, 0.0f);
  Vec r(factored ? batch * rows : 0, 0.0f), c(factored ? batch * cols : 0, 0.0f);
  DVec rvar = to_double(var), rv(n, 0.0), rr(r.size(), 0.0), rc(c.size(), 0.0);
  const double lr = 0.01, eps1 = 1e-30, eps2 = 1e-3, decay = -0.8;
  for (int s = 0; s < kSteps; ++s) {
    const Vec g = grad_for(n, s);
    const double t = s + 1;
    const double rho = std::min(lr, 1 / std::sqrt(t));
    const double beta = 1 - std::pow(t, decay);
    adafactor_update(var.data(), g.data(), factored ? r.data() : nullptr,
                     factored ? c.data() : nullptr, v.data(), batch, rows, cols,
                     AdafactorParams{float(rho), float(eps1), float(eps2), float(beta),
                                     float(1 - beta), float(clip)});
    adafactor_reference(rvar, g, rr, rc, rv, batch, rows, cols, factored, rho, eps1, eps2, beta,
                        clip);
  }
  expect_close(var, rvar, "adafactor var", n, 1e-4);
  expect_close(v, rv, "adafactor v", n, 1e-4);
  if (factored) {
    expect_close(r, rr, "adafactor r", n, 1e-4);
    expect_close(c, rc, "adafactor c", n, 1e-4);
  }
}

TEST(OptimAdafactor, UnfactoredMatchesNaiveLoop) {
  for (int64_t n : kSizes) {
    run_adafactor_case(1, 1, n, false, 1.0);
    run_adafactor_case(1, 1, n, false, 0.1);  // the update clipping active
  }
}

TEST(OptimAdafactor, FactoredMatchesNaiveLoop) {
  const int64_t shapes[][3] = {{1, 1, 1}, {1, 3, 5}, {1, 5, 1},    {1, 1, 9},
                               {2, 3, 7}, {3, 1, 4}, {1, 4097, 3}, {2, 129, 257}};
  for (const auto& s : shapes) {
    SCOPED_TRACE(testing::Message() << s[0] << "x" << s[1] << "x" << s[2]);
    run_adafactor_case(s[0], s[1], s[2], true, 1.0);
    run_adafactor_case(s[0], s[1], s[2], true, 0.1);
  }
}

TEST(OptimMoreThreads, ReductionsDoNotDependOnThreadCount) {
  const int64_t n = 300001;
  const Vec g = grad_for(n, 0);
  std::vector<Vec> results;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    Vec var = random_vec(n, 15, -1, 1), m(n, 0.0f), v(n, 0.0f), v2(n, 0.0f);
    for (int s = 0; s < 3; ++s) {
      lamb_update(var.data(), g.data(), m.data(), v.data(), n,
                  LambParams{0.001f, 0.1f, 0.001f, 0.1f, 0.001f, 1e-7f});
      adafactor_update(var.data(), g.data(), nullptr, nullptr, v2.data(), 1, 1, n,
                       AdafactorParams{0.01f, 1e-30f, 1e-3f, 0.5f, 0.5f, 1.0f});
      lion_update(var.data(), g.data(), m.data(), n, LionParams{0.001f, 0.9f, 0.1f, 0.99f, 0.01f});
    }
    results.push_back(var);
  }
  set_num_threads(0);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST(OptimMoreEdgeCases, ZeroSizeIsANoOp) {
  lion_update(nullptr, nullptr, nullptr, 0, LionParams{0.1f, 0.9f, 0.1f, 0.99f, 0.01f});
  ftrl_update(nullptr, nullptr, nullptr, nullptr, 0, FtrlParams{0.1f, 0.5f, 0.0f, 0.0f, 0.0f});
  lamb_update(nullptr, nullptr, nullptr, nullptr, 0,
              LambParams{0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 1e-7f});
  adafactor_update(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 3, 4,
                   AdafactorParams{0.1f, 1e-30f, 1e-3f, 0.5f, 0.5f, 1.0f});
  adafactor_update(nullptr, nullptr, nullptr, nullptr, nullptr, 1, 1, 0,
                   AdafactorParams{0.1f, 1e-30f, 1e-3f, 0.5f, 0.5f, 1.0f});
}

}  // namespace
}  // namespace fastkeras::optim
