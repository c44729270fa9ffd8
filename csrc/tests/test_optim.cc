// The optimizer update kernels against naive double-precision loops of the same rules, over
// several steps, for sizes that exercise the single-thread and multi-thread paths; plus checks
// that the thread count does not change a single bit of the result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "kernels/gemm/gemm.h"
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

// Gradients for step s of a run on n elements.
Vec grad_for(int64_t n, int step) { return random_vec(n, 1000u + 17u * step + n, -1.0f, 1.0f); }

TEST(OptimSgd, PlainMomentumNesterov) {
  for (int64_t n : kSizes) {
    for (int mode = 0; mode < 3; ++mode) {  // 0 plain, 1 momentum, 2 nesterov
      Vec var = random_vec(n, 1, -1, 1), mom(n, 0.0f);
      DVec rvar = to_double(var), rmom(n, 0.0);
      const float lr = 0.05f, mu = 0.9f;
      for (int s = 0; s < kSteps; ++s) {
        const Vec g = grad_for(n, s);
        sgd_update(var.data(), g.data(), mode ? mom.data() : nullptr, n,
                   SgdParams{lr, mu, mode == 2});
        for (int64_t i = 0; i < n; ++i) {
          if (mode == 0) {
            rvar[i] -= g[i] * double(lr);
          } else {
            rmom[i] = rmom[i] * mu - g[i] * double(lr);
            rvar[i] += mode == 2 ? rmom[i] * mu - g[i] * double(lr) : rmom[i];
          }
        }
      }
      expect_close(var, rvar, "sgd var", n);
      if (mode) expect_close(mom, rmom, "sgd momentum", n);
    }
  }
}

TEST(OptimAdam, WithAndWithoutAmsgrad) {
  for (int64_t n : kSizes) {
    for (bool amsgrad : {false, true}) {
      Vec var = random_vec(n, 2, -1, 1), m(n, 0.0f), v(n, 0.0f), vh(n, 0.0f);
      DVec rvar = to_double(var), rm(n, 0.0), rv(n, 0.0), rvh(n, 0.0);
      const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-7;
      for (int s = 0; s < kSteps; ++s) {
        const Vec g = grad_for(n, s);
        const double t = s + 1;
        const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
        adam_update(var.data(), g.data(), m.data(), v.data(), amsgrad ? vh.data() : nullptr, n,
                    AdamParams{float(alpha), float(1 - b1), float(1 - b2), float(eps)});
        for (int64_t i = 0; i < n; ++i) {
          rm[i] += (g[i] - rm[i]) * (1 - b1);
          rv[i] += (double(g[i]) * g[i] - rv[i]) * (1 - b2);
          double vu = rv[i];
          if (amsgrad) vu = rvh[i] = std::max(rvh[i], rv[i]);
          rvar[i] -= rm[i] * alpha / (std::sqrt(vu) + eps);
        }
      }
      expect_close(var, rvar, "adam var", n);
      expect_close(m, rm, "adam m", n);
      expect_close(v, rv, "adam v", n);
      if (amsgrad) expect_close(vh, rvh, "adam velocity_hat", n);
    }
  }
}

// Adam's loop is compiled once per ISA (wider vectors, the same operations, no contraction):
// every build must give the portable loop's bits.
TEST(OptimAdam, SameBitsOnEveryIsa) {
  const Isa saved = gemm_isa();
  for (int64_t n : kSizes) {
    for (bool amsgrad : {false, true}) {
      std::vector<Vec> results;
      for (Isa isa : supported_isas()) {
        set_gemm_isa(isa);
        Vec var = random_vec(n, 3, -1, 1), m(n, 0.0f), v(n, 0.0f), vh(n, 0.0f);
        for (int s = 0; s < kSteps; ++s) {
          const Vec g = grad_for(n, s);
          adam_update(var.data(), g.data(), m.data(), v.data(), amsgrad ? vh.data() : nullptr, n,
                      AdamParams{0.003f, 0.1f, 0.001f, 1e-7f});
        }
        var.insert(var.end(), m.begin(), m.end());
        var.insert(var.end(), v.begin(), v.end());
        var.insert(var.end(), vh.begin(), vh.end());
        results.push_back(var);
      }
      for (size_t i = 1; i < results.size(); ++i) {
        EXPECT_EQ(results[i], results[0])
            << isa_name(supported_isas()[i]) << " n=" << n << " amsgrad=" << amsgrad;
      }
    }
  }
  set_gemm_isa(saved);
}

TEST(OptimRmsprop, AllFourVariants) {
  for (int64_t n : kSizes) {
    for (bool centered : {false, true}) {
      for (bool with_momentum : {false, true}) {
        Vec var = random_vec(n, 3, -1, 1), vel(n, 0.0f), mom(n, 0.0f), avg(n, 0.0f);
        DVec rvar = to_double(var), rvel(n, 0.0), rmom(n, 0.0), ravg(n, 0.0);
        const double lr = 0.01, rho = 0.9, mu = with_momentum ? 0.5 : 0.0, eps = 1e-7;
        for (int s = 0; s < kSteps; ++s) {
          const Vec g = grad_for(n, s);
          rmsprop_update(
              var.data(), g.data(), vel.data(), with_momentum ? mom.data() : nullptr,
              centered ? avg.data() : nullptr, n,
              RmspropParams{float(lr), float(rho), float(1 - rho), float(mu), float(eps)});
          for (int64_t i = 0; i < n; ++i) {
            rvel[i] = rho * rvel[i] + (1 - rho) * g[i] * g[i];
            double denom = rvel[i] + eps;
            if (centered) {
              ravg[i] = rho * ravg[i] + (1 - rho) * g[i];
              denom = rvel[i] - ravg[i] * ravg[i] + eps;
            }
            const double inc = lr * g[i] / std::sqrt(denom);
            if (with_momentum) {
              rmom[i] = mu * rmom[i] + inc;
              rvar[i] -= rmom[i];
            } else {
              rvar[i] -= inc;
            }
          }
        }
        // Centered RMSprop divides by a difference that can be tiny: compare with a looser bound.
        if (centered) {
          for (int64_t i = 0; i < n; ++i) {
            ASSERT_NEAR(var[i], rvar[i], 1e-4 + 1e-4 * std::fabs(rvar[i])) << "n=" << n;
          }
        } else {
          expect_close(var, rvar, "rmsprop var", n);
        }
        expect_close(vel, rvel, "rmsprop velocity", n);
        if (centered) expect_close(avg, ravg, "rmsprop average_grad", n);
      }
    }
  }
}

TEST(OptimAdadelta, MatchesNaiveLoop) {
  for (int64_t n : kSizes) {
    Vec var = random_vec(n, 4, -1, 1), ag(n, 0.0f), ad(n, 0.0f);
    DVec rvar = to_double(var), rag(n, 0.0), rad(n, 0.0);
    const double lr = 1.0, rho = 0.95, eps = 1e-7;
    for (int s = 0; s < kSteps; ++s) {
      const Vec g = grad_for(n, s);
      adadelta_update(var.data(), g.data(), ag.data(), ad.data(), n,
                      AdadeltaParams{float(lr), float(rho), float(1 - rho), float(eps)});
      for (int64_t i = 0; i < n; ++i) {
        rag[i] = rho * rag[i] + (1 - rho) * g[i] * g[i];
        const double delta = -std::sqrt(rad[i] + eps) * g[i] / std::sqrt(rag[i] + eps);
        rad[i] = rho * rad[i] + (1 - rho) * delta * delta;
        rvar[i] += lr * delta;
      }
    }
    expect_close(var, rvar, "adadelta var", n);
    expect_close(ag, rag, "adadelta accumulated_grad", n);
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(ad[i], rad[i], 1e-9 + 1e-4 * rad[i]);
  }
}

TEST(OptimAdagrad, MatchesNaiveLoop) {
  for (int64_t n : kSizes) {
    Vec var = random_vec(n, 5, -1, 1), acc(n, 0.1f);
    DVec rvar = to_double(var), racc = to_double(acc);
    const double lr = 0.1, eps = 1e-7;
    for (int s = 0; s < kSteps; ++s) {
      const Vec g = grad_for(n, s);
      adagrad_update(var.data(), g.data(), acc.data(), n, AdagradParams{float(lr), float(eps)});
      for (int64_t i = 0; i < n; ++i) {
        racc[i] += double(g[i]) * g[i];
        rvar[i] -= lr * g[i] / std::sqrt(racc[i] + eps);
      }
    }
    expect_close(var, rvar, "adagrad var", n);
    expect_close(acc, racc, "adagrad accumulator", n);
  }
}

TEST(OptimAdamax, MatchesNaiveLoop) {
  for (int64_t n : kSizes) {
    Vec var = random_vec(n, 6, -1, 1), m(n, 0.0f), u(n, 0.0f);
    DVec rvar = to_double(var), rm(n, 0.0), ru(n, 0.0);
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-7;
    for (int s = 0; s < kSteps; ++s) {
      const Vec g = grad_for(n, s);
      const double bias = 1 - std::pow(b1, s + 1);
      adamax_update(var.data(), g.data(), m.data(), u.data(), n,
                    AdamaxParams{float(lr), float(1 - b1), float(b2), float(bias), float(eps)});
      for (int64_t i = 0; i < n; ++i) {
        rm[i] += (g[i] - rm[i]) * (1 - b1);
        ru[i] = std::max(b2 * ru[i], std::fabs(double(g[i])));
        rvar[i] -= lr * rm[i] / (bias * (ru[i] + eps));
      }
    }
    expect_close(var, rvar, "adamax var", n);
    expect_close(m, rm, "adamax m", n);
    expect_close(u, ru, "adamax u", n);
  }
}

TEST(OptimNadam, MatchesNaiveLoop) {
  for (int64_t n : kSizes) {
    Vec var = random_vec(n, 7, -1, 1), m(n, 0.0f), v(n, 0.0f);
    DVec rvar = to_double(var), rm(n, 0.0), rv(n, 0.0);
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-7;
    double u_product = 1.0;
    for (int s = 0; s < kSteps; ++s) {
      const Vec g = grad_for(n, s);
      const double t = s + 1;
      const double u_t = b1 * (1 - 0.5 * std::pow(0.96, t));
      const double u_next = b1 * (1 - 0.5 * std::pow(0.96, t + 1));
      u_product *= u_t;
      const double u_product_next = u_product * u_next;
      const double b2_power = std::pow(b2, t);
      nadam_update(var.data(), g.data(), m.data(), v.data(), n,
                   NadamParams{float(lr), float(1 - b1), float(1 - b2), float(u_next),
                               float(1 - u_product_next), float(1 - u_t), float(1 - u_product),
                               float(1 - b2_power), float(eps)});
      for (int64_t i = 0; i < n; ++i) {
        rm[i] += (g[i] - rm[i]) * (1 - b1);
        rv[i] += (double(g[i]) * g[i] - rv[i]) * (1 - b2);
        const double m_hat =
            u_next * rm[i] / (1 - u_product_next) + (1 - u_t) * g[i] / (1 - u_product);
        const double v_hat = rv[i] / (1 - b2_power);
        rvar[i] -= m_hat * lr / (std::sqrt(v_hat) + eps);
      }
    }
    expect_close(var, rvar, "nadam var", n);
    expect_close(m, rm, "nadam m", n);
    expect_close(v, rv, "nadam v", n);
  }
}

TEST(OptimDecayWeights, MatchesNaiveLoop) {
  for (int64_t n : kSizes) {
    Vec var = random_vec(n, 8, -2, 2);
    DVec rvar = to_double(var);
    decay_weights(var.data(), n, 0.004f, 0.01f);
    for (int64_t i = 0; i < n; ++i) rvar[i] -= rvar[i] * double(0.004f) * double(0.01f);
    expect_close(var, rvar, "decay var", n);
  }
}

TEST(OptimSumSquares, MatchesNaiveLoopAndIsThreadIndependent) {
  EXPECT_EQ(sum_squares(nullptr, 0), 0.0);
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{4097}, int64_t{300001}}) {
    const Vec x = random_vec(n, 9, -3, 3);
    double ref = 0.0;
    for (float v : x) ref += double(v) * v;
    set_num_threads(1);
    const double one = sum_squares(x.data(), n);
    set_num_threads(3);
    const double three = sum_squares(x.data(), n);
    set_num_threads(0);
    EXPECT_NEAR(one, ref, 1e-12 * ref) << n;
    EXPECT_EQ(one, three) << n;
  }
}

// The same run on 1, 2 and 3 threads must give identical bits.
TEST(OptimThreads, ResultsDoNotDependOnThreadCount) {
  const int64_t n = 300001;
  const Vec g = grad_for(n, 0);
  std::vector<Vec> results;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    Vec var = random_vec(n, 10, -1, 1), m(n, 0.0f), v(n, 0.0f), vh(n, 0.0f);
    for (int s = 0; s < 3; ++s) {
      adam_update(var.data(), g.data(), m.data(), v.data(), vh.data(), n,
                  AdamParams{0.001f, 0.1f, 0.001f, 1e-7f});
      rmsprop_update(var.data(), g.data(), v.data(), m.data(), vh.data(), n,
                     RmspropParams{0.001f, 0.9f, 0.1f, 0.5f, 1e-7f});
      sgd_update(var.data(), g.data(), m.data(), n, SgdParams{0.01f, 0.9f, true});
    }
    results.push_back(var);
  }
  set_num_threads(0);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST(OptimEdgeCases, ZeroSizeIsANoOp) {
  sgd_update(nullptr, nullptr, nullptr, 0, SgdParams{0.1f, 0.0f, false});
  adam_update(nullptr, nullptr, nullptr, nullptr, nullptr, 0, AdamParams{0.1f, 0.1f, 0.1f, 1e-7f});
  adagrad_update(nullptr, nullptr, nullptr, 0, AdagradParams{0.1f, 1e-7f});
  decay_weights(nullptr, 0, 0.1f, 0.1f);
}

}  // namespace
}  // namespace fastkeras::optim
