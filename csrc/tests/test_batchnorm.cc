// The fused batch-norm kernels against naive double-precision loops: forward in training and
// inference mode, backward with and without the batch-statistics terms, on awkward shapes
// (one element per channel, one channel, 257 channels, channels-first planes, large inputs
// split across threads), plus a finite-difference check of the training-mode input gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/norm/batchnorm.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

struct Case {
  int64_t outer, channels, inner;
};

std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -2.0f, float hi = 2.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

int64_t idx(const Case& k, int64_t o, int64_t ch, int64_t i) {
  return (o * k.channels + ch) * k.inner + i;
}

// Batch mean and biased variance per channel, in double.
void ref_stats(const Case& k, const std::vector<float>& x, std::vector<double>& mean,
               std::vector<double>& var) {
  const double n = static_cast<double>(k.outer * k.inner);
  mean.assign(k.channels, 0.0);
  var.assign(k.channels, 0.0);
  for (int64_t ch = 0; ch < k.channels; ++ch) {
    double s = 0;
    for (int64_t o = 0; o < k.outer; ++o)
      for (int64_t i = 0; i < k.inner; ++i) s += x[idx(k, o, ch, i)];
    mean[ch] = s / n;
    double q = 0;
    for (int64_t o = 0; o < k.outer; ++o)
      for (int64_t i = 0; i < k.inner; ++i) {
        const double d = x[idx(k, o, ch, i)] - mean[ch];
        q += d * d;
      }
    var[ch] = q / n;
  }
}

// Training-mode forward in double, for finite differences.
std::vector<double> ref_forward_train(const Case& k, const std::vector<double>& x,
                                      const std::vector<float>& gamma,
                                      const std::vector<float>& beta, double eps) {
  const double n = static_cast<double>(k.outer * k.inner);
  std::vector<double> y(x.size());
  for (int64_t ch = 0; ch < k.channels; ++ch) {
    double s = 0, q = 0;
    for (int64_t o = 0; o < k.outer; ++o)
      for (int64_t i = 0; i < k.inner; ++i) s += x[idx(k, o, ch, i)];
    const double m = s / n;
    for (int64_t o = 0; o < k.outer; ++o)
      for (int64_t i = 0; i < k.inner; ++i) {
        const double d = x[idx(k, o, ch, i)] - m;
        q += d * d;
      }
    const double inv = 1.0 / std::sqrt(q / n + eps);
    for (int64_t o = 0; o < k.outer; ++o)
      for (int64_t i = 0; i < k.inner; ++i) {
        const int64_t j = idx(k, o, ch, i);
        y[j] = (x[j] - m) * inv * gamma[ch] + beta[ch];
      }
  }
  return y;
}

double tol(double ref, double abs_tol = 2e-5, double rel = 2e-5) {
  return abs_tol + rel * std::fabs(ref);
}

void check_forward_train(const Case& k, bool affine, float offset = 0.0f) {
  const size_t size = static_cast<size_t>(k.outer * k.channels * k.inner);
  auto x = random_vec(size, static_cast<uint32_t>(size + k.channels));
  for (auto& e : x) e += offset;
  auto gamma = random_vec(k.channels, 11, 0.5f, 1.5f);
  auto beta = random_vec(k.channels, 12);
  const float eps = 1e-3f;
  std::vector<float> y(size), mean(k.channels), var(k.channels), inv(k.channels);
  BatchNormShape s{k.outer, k.channels, k.inner};
  batchnorm_forward_train(s, x.data(), affine ? gamma.data() : nullptr,
                          affine ? beta.data() : nullptr, eps, y.data(), mean.data(), var.data(),
                          inv.data());
  std::vector<double> rm, rv;
  ref_stats(k, x, rm, rv);
  for (int64_t ch = 0; ch < k.channels; ++ch) {
    ASSERT_NEAR(mean[ch], rm[ch], tol(rm[ch], 1e-5, 1e-6)) << "channel " << ch;
    ASSERT_NEAR(var[ch], rv[ch], tol(rv[ch], 1e-5, 1e-4)) << "channel " << ch;
    const double rinv = 1.0 / std::sqrt(rv[ch] + eps);
    ASSERT_NEAR(inv[ch], rinv, tol(rinv, 1e-5, 1e-4));
  }
  for (int64_t o = 0; o < k.outer; ++o)
    for (int64_t ch = 0; ch < k.channels; ++ch)
      for (int64_t i = 0; i < k.inner; ++i) {
        const int64_t j = idx(k, o, ch, i);
        double ref = (x[j] - rm[ch]) / std::sqrt(rv[ch] + eps);
        if (affine) ref = ref * gamma[ch] + beta[ch];
        // Storing the mean in float rounds it by up to |offset| * 2^-24.
        ASSERT_NEAR(y[j], ref, tol(ref, 1e-4 + 1.2e-7 * std::fabs(offset), 1e-4))
            << o << "," << ch << "," << i;
      }
}

const std::vector<Case> kCases = {
    {1, 3, 1},  // one sample: zero variance, output = beta
    {1, 1, 1},   {5, 1, 1},    {7, 3, 1}, {33, 257, 1},
    {2, 5, 1},   {3, 3, 25},  // channels-first planes
    {2, 257, 7}, {4, 1, 1000}, {1, 4, 9}, {2, 2, 13},
};

TEST(BatchNormForward, TrainingMatchesNaiveLoops) {
  for (const Case& k : kCases) {
    for (bool affine : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << k.outer << "x" << k.channels << "x" << k.inner << " affine=" << affine);
      check_forward_train(k, affine);
    }
  }
}

TEST(BatchNormForward, SingleSamplePerChannelGivesBeta) {
  std::vector<float> x = {3.0f, -1.0f, 7.5f}, gamma = {2.0f, 3.0f, 4.0f}, beta = {0.1f, 0.2f, 0.3f};
  std::vector<float> y(3), mean(3), var(3), inv(3);
  batchnorm_forward_train({1, 3, 1}, x.data(), gamma.data(), beta.data(), 1e-3f, y.data(),
                          mean.data(), var.data(), inv.data());
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(mean[c], x[c]);
    EXPECT_EQ(var[c], 0.0f);
    EXPECT_FLOAT_EQ(y[c], beta[c]);
  }
}

TEST(BatchNormForward, LargeOffsetKeepsVarianceAccurate) {
  // Data far from zero: a naive sum-of-squares in float would lose the variance entirely.
  check_forward_train({500, 4, 1}, true, 1000.0f);
  check_forward_train({4, 3, 300}, true, -5000.0f);
}

TEST(BatchNormForward, InferenceMatchesNaiveLoops) {
  for (const Case& k : kCases) {
    const size_t size = static_cast<size_t>(k.outer * k.channels * k.inner);
    auto x = random_vec(size, 5);
    auto mean = random_vec(k.channels, 6);
    auto var = random_vec(k.channels, 7, 0.1f, 3.0f);
    auto gamma = random_vec(k.channels, 8);
    auto beta = random_vec(k.channels, 9);
    for (bool affine : {false, true}) {
      std::vector<float> y(size);
      batchnorm_forward_infer({k.outer, k.channels, k.inner}, x.data(), mean.data(), var.data(),
                              affine ? gamma.data() : nullptr, affine ? beta.data() : nullptr,
                              1e-3f, y.data());
      for (int64_t o = 0; o < k.outer; ++o)
        for (int64_t ch = 0; ch < k.channels; ++ch)
          for (int64_t i = 0; i < k.inner; ++i) {
            const int64_t j = idx(k, o, ch, i);
            double ref = (x[j] - double(mean[ch])) / std::sqrt(double(var[ch]) + 1e-3);
            if (affine) ref = ref * gamma[ch] + beta[ch];
            ASSERT_NEAR(y[j], ref, tol(ref, 1e-5, 1e-5));
          }
    }
  }
}

void check_backward(const Case& k, bool batch_stats, bool affine) {
  const size_t size = static_cast<size_t>(k.outer * k.channels * k.inner);
  auto x = random_vec(size, 21 + static_cast<uint32_t>(size));
  auto dy = random_vec(size, 22 + static_cast<uint32_t>(size));
  auto gamma = random_vec(k.channels, 23, 0.5f, 1.5f);
  const float eps = 1e-3f;
  std::vector<float> mean(k.channels), inv(k.channels);
  std::vector<double> rm, rv;
  if (batch_stats) {
    ref_stats(k, x, rm, rv);
  } else {
    auto m = random_vec(k.channels, 24);
    auto v = random_vec(k.channels, 25, 0.2f, 2.0f);
    rm.assign(m.begin(), m.end());
    rv.assign(v.begin(), v.end());
  }
  std::vector<double> rinv(k.channels);
  for (int64_t ch = 0; ch < k.channels; ++ch) {
    mean[ch] = static_cast<float>(rm[ch]);
    inv[ch] = static_cast<float>(1.0 / std::sqrt(rv[ch] + eps));
    rinv[ch] = inv[ch];
  }
  std::vector<float> dx(size, -99.0f), dgamma(k.channels, -99.0f), dbeta(k.channels, -99.0f);
  batchnorm_backward({k.outer, k.channels, k.inner}, x.data(), dy.data(), mean.data(), inv.data(),
                     affine ? gamma.data() : nullptr, batch_stats, dx.data(), dgamma.data(),
                     dbeta.data());
  const double n = static_cast<double>(k.outer * k.inner);
  for (int64_t ch = 0; ch < k.channels; ++ch) {
    double sdy = 0, sdyxh = 0;
    for (int64_t o = 0; o < k.outer; ++o)
      for (int64_t i = 0; i < k.inner; ++i) {
        const int64_t j = idx(k, o, ch, i);
        sdy += dy[j];
        sdyxh += dy[j] * (x[j] - double(mean[ch])) * rinv[ch];
      }
    ASSERT_NEAR(dbeta[ch], sdy, tol(sdy, 1e-4, 1e-5));
    ASSERT_NEAR(dgamma[ch], sdyxh, tol(sdyxh, 1e-4, 1e-5));
    const double g = affine ? gamma[ch] : 1.0;
    for (int64_t o = 0; o < k.outer; ++o)
      for (int64_t i = 0; i < k.inner; ++i) {
        const int64_t j = idx(k, o, ch, i);
        const double xh = (x[j] - double(mean[ch])) * rinv[ch];
        double ref = dy[j];
        if (batch_stats) ref = dy[j] - sdy / n - xh * sdyxh / n;
        ref *= g * rinv[ch];
        ASSERT_NEAR(dx[j], ref, tol(ref, 1e-4, 1e-4)) << o << "," << ch << "," << i;
      }
  }
}

TEST(BatchNormBackward, MatchesNaiveLoops) {
  for (const Case& k : kCases)
    for (bool batch_stats : {false, true})
      for (bool affine : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << k.outer << "x" << k.channels << "x" << k.inner
                     << " batch_stats=" << batch_stats << " affine=" << affine);
        check_backward(k, batch_stats, affine);
      }
}

TEST(BatchNormBackward, TrainingInputGradientMatchesFiniteDifferences) {
  for (const Case& k : std::vector<Case>{{6, 3, 1}, {2, 2, 5}, {2, 1, 1}}) {
    const size_t size = static_cast<size_t>(k.outer * k.channels * k.inner);
    auto xf = random_vec(size, 31);
    auto w = random_vec(size, 32);  // loss = sum(w * y), so dy = w
    auto gamma = random_vec(k.channels, 33, 0.5f, 1.5f);
    auto beta = random_vec(k.channels, 34);
    const float eps = 1e-3f;
    std::vector<float> y(size), mean(k.channels), var(k.channels), inv(k.channels), dx(size);
    BatchNormShape s{k.outer, k.channels, k.inner};
    batchnorm_forward_train(s, xf.data(), gamma.data(), beta.data(), eps, y.data(), mean.data(),
                            var.data(), inv.data());
    batchnorm_backward(s, xf.data(), w.data(), mean.data(), inv.data(), gamma.data(), true,
                       dx.data(), nullptr, nullptr);
    std::vector<double> x(xf.begin(), xf.end());
    const double h = 1e-6;
    for (size_t j = 0; j < size; ++j) {
      auto loss = [&](double delta) {
        std::vector<double> xp = x;
        xp[j] += delta;
        auto yp = ref_forward_train(k, xp, gamma, beta, eps);
        double l = 0;
        for (size_t t = 0; t < size; ++t) l += w[t] * yp[t];
        return l;
      };
      const double num = (loss(h) - loss(-h)) / (2 * h);
      ASSERT_NEAR(dx[j], num, 1e-3 + 1e-3 * std::fabs(num)) << "element " << j;
    }
  }
}

TEST(BatchNormBackward, NullOutputsAreSkipped) {
  const Case k{9, 4, 1};
  auto x = random_vec(36, 41);
  auto dy = random_vec(36, 42);
  std::vector<float> mean(4, 0.1f), inv(4, 1.5f), dx(36, 7.0f), dgamma(4, 7.0f);
  // dgamma only.
  batchnorm_backward({k.outer, k.channels, k.inner}, x.data(), dy.data(), mean.data(), inv.data(),
                     nullptr, true, nullptr, dgamma.data(), nullptr);
  for (float v : dx) EXPECT_EQ(v, 7.0f);
  for (float v : dgamma) EXPECT_NE(v, 7.0f);
  // dx only, inference statistics: dx = inv * dy.
  batchnorm_backward({k.outer, k.channels, k.inner}, x.data(), dy.data(), mean.data(), inv.data(),
                     nullptr, false, dx.data(), nullptr, nullptr);
  for (size_t j = 0; j < dx.size(); ++j) EXPECT_FLOAT_EQ(dx[j], 1.5f * dy[j]);
}

TEST(BatchNorm, EmptyBatchIsHarmless) {
  std::vector<float> gamma(3, 1.0f), mean(3, 5.0f), var(3, 5.0f), inv(3, 5.0f), dg(3, 5.0f),
      db(3, 5.0f);
  batchnorm_forward_train({0, 3, 1}, nullptr, gamma.data(), nullptr, 1e-3f, nullptr, mean.data(),
                          var.data(), inv.data());
  batchnorm_backward({0, 3, 1}, nullptr, nullptr, mean.data(), inv.data(), gamma.data(), true,
                     nullptr, dg.data(), db.data());
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(mean[c], 0.0f);
    EXPECT_EQ(var[c], 0.0f);
    EXPECT_EQ(dg[c], 0.0f);
    EXPECT_EQ(db[c], 0.0f);
  }
}

// Big inputs run on several threads (split by rows or by channels); the results must match
// a one-thread run and the naive loops.
TEST(BatchNorm, ThreadedMatchesSingleThread) {
  // Rows split (channels-last and planes), channels split (few rows, or many channels).
  const std::vector<Case> big = {{40000, 16, 1}, {8, 3, 20000}, {3, 300000, 1},
                                 {3, 8, 40000},  {64, 64, 64},  {2, 3, 100000}};
  for (const Case& k : big) {
    SCOPED_TRACE(::testing::Message() << k.outer << "x" << k.channels << "x" << k.inner);
    const size_t size = static_cast<size_t>(k.outer * k.channels * k.inner);
    auto x = random_vec(size, 51);
    auto dy = random_vec(size, 52);
    auto gamma = random_vec(k.channels, 53);
    auto beta = random_vec(k.channels, 54);
    BatchNormShape s{k.outer, k.channels, k.inner};
    std::vector<float> y[2], mean[2], var[2], inv[2], dx[2], dg[2], db[2];
    for (int run = 0; run < 2; ++run) {
      set_num_threads(run == 0 ? 1 : 4);
      y[run].resize(size);
      dx[run].resize(size);
      for (auto* v : {&mean[run], &var[run], &inv[run], &dg[run], &db[run]}) v->resize(k.channels);
      batchnorm_forward_train(s, x.data(), gamma.data(), beta.data(), 1e-3f, y[run].data(),
                              mean[run].data(), var[run].data(), inv[run].data());
      batchnorm_backward(s, x.data(), dy.data(), mean[run].data(), inv[run].data(), gamma.data(),
                         true, dx[run].data(), dg[run].data(), db[run].data());
    }
    set_num_threads(0);
    std::vector<double> rm, rv;
    ref_stats(k, x, rm, rv);
    for (int64_t ch = 0; ch < k.channels; ++ch) {
      ASSERT_NEAR(mean[1][ch], rm[ch], 1e-5);
      ASSERT_NEAR(var[1][ch], rv[ch], 1e-5);
      ASSERT_NEAR(mean[0][ch], mean[1][ch], 1e-6);
      ASSERT_NEAR(dg[0][ch], dg[1][ch], 1e-3 + 1e-5 * std::fabs(dg[0][ch]));
      ASSERT_NEAR(db[0][ch], db[1][ch], 1e-3 + 1e-5 * std::fabs(db[0][ch]));
    }
    for (size_t j = 0; j < size; j += 7) {
      ASSERT_NEAR(y[0][j], y[1][j], 1e-5);
      ASSERT_NEAR(dx[0][j], dx[1][j], 1e-5);
    }
  }
  check_backward({40000, 16, 1}, true, true);
  check_backward({3, 8, 40000}, true, true);
}

}  // namespace
}  // namespace fastkeras
