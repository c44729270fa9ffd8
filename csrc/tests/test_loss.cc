// The fused cross-entropy kernels against naive double-precision references, on awkward shapes
// and extreme logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/loss/loss.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

std::vector<float> random_logits(int64_t n, int64_t c, float spread, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-spread, spread);
  std::vector<float> z(n * c);
  for (auto& v : z) v = dist(rng);
  return z;
}

std::vector<float> random_scale(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.1f, 2.0f);
  std::vector<float> s(n);
  for (auto& v : s) v = dist(rng);
  return s;
}

// Double-precision log-softmax of one row.
std::vector<double> log_softmax_ref(const float* z, int64_t c) {
  double m = -INFINITY;
  for (int64_t j = 0; j < c; ++j) m = std::max(m, static_cast<double>(z[j]));
  double s = 0.0;
  for (int64_t j = 0; j < c; ++j) s += std::exp(static_cast<double>(z[j]) - m);
  std::vector<double> out(c);
  for (int64_t j = 0; j < c; ++j) out[j] = static_cast<double>(z[j]) - m - std::log(s);
  return out;
}

// Tolerance for a float result of magnitude `ref` computed through a length-c reduction.
double tol(double ref, int64_t c) { return 1e-5 * (1.0 + std::fabs(ref)) * (1.0 + std::log1p(c)); }

void check_sparse(int64_t n, int64_t c, float spread, bool with_scale, int threads) {
  const auto z = random_logits(n, c, spread, static_cast<uint32_t>(n * 7919 + c));
  std::vector<int64_t> labels(n);
  std::mt19937 rng(static_cast<uint32_t>(n + 3 * c));
  for (auto& y : labels) y = static_cast<int64_t>(rng() % c);
  const auto scale = random_scale(n, 5);
  std::vector<float> loss(n, -1.0f), grad(n * c, -1.0f);
  set_num_threads(threads);
  const LabelCheck ok =
      sparse_softmax_cross_entropy(z.data(), n, c, labels.data(), false, 0,
                                   with_scale ? scale.data() : nullptr, loss.data(), grad.data());
  set_num_threads(0);
  ASSERT_TRUE(ok.ok());
  for (int64_t i = 0; i < n; ++i) {
    const auto lp = log_softmax_ref(&z[i * c], c);
    const double ref = -lp[labels[i]];
    ASSERT_TRUE(std::isfinite(loss[i]));
    ASSERT_NEAR(loss[i], ref, tol(ref, c)) << n << "x" << c << " row " << i;
    const double k = with_scale ? scale[i] : 1.0;
    for (int64_t j = 0; j < c; ++j) {
      const double g = k * (std::exp(lp[j]) - (j == labels[i] ? 1.0 : 0.0));
      ASSERT_TRUE(std::isfinite(grad[i * c + j]));
      ASSERT_NEAR(grad[i * c + j], g, 1e-5 * (1.0 + k)) << n << "x" << c << " " << i << "," << j;
    }
  }
}

TEST(LossSparseSoftmaxCE, MatchesReference) {
  for (int64_t n : {1, 3, 64}) {
    for (int64_t c : {1, 2, 10, 1001}) {
      check_sparse(n, c, 5.0f, false, 1);
      check_sparse(n, c, 5.0f, true, 1);
    }
  }
}

TEST(LossSparseSoftmaxCE, ExtremeLogitsStayFinite) {
  for (float spread : {100.0f, 1e4f}) {
    for (int64_t c : {1, 2, 10, 1001}) check_sparse(7, c, spread, true, 1);
  }
  // The label's logit far below the others: the loss is huge but exact, the gradient bounded.
  const int64_t c = 3;
  std::vector<float> z = {1e4f, -1e4f, 0.0f};
  std::vector<int32_t> y = {1};
  float loss = 0.0f;
  std::vector<float> g(c);
  ASSERT_TRUE(
      sparse_softmax_cross_entropy(z.data(), 1, c, y.data(), false, 0, nullptr, &loss, g.data())
          .ok());
  EXPECT_FLOAT_EQ(loss, 2e4f);
  EXPECT_FLOAT_EQ(g[0], 1.0f);
  EXPECT_FLOAT_EQ(g[1], -1.0f);
  EXPECT_FLOAT_EQ(g[2], 0.0f);
}

TEST(LossSparseSoftmaxCE, ThreadsGiveSameResult) {
  for (int threads : {2, 3}) check_sparse(997, 1001, 10.0f, true, threads);
}

TEST(LossSparseSoftmaxCE, LossOnlyWhenGradIsNull) {
  const int64_t n = 5, c = 4;
  const auto z = random_logits(n, c, 3.0f, 11);
  std::vector<int32_t> y = {0, 1, 2, 3, 0};
  std::vector<float> a(n), b(n), g(n * c);
  ASSERT_TRUE(
      sparse_softmax_cross_entropy(z.data(), n, c, y.data(), false, 0, nullptr, a.data(), nullptr)
          .ok());
  ASSERT_TRUE(
      sparse_softmax_cross_entropy(z.data(), n, c, y.data(), false, 0, nullptr, b.data(), g.data())
          .ok());
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(a[i], b[i]);
}

TEST(LossSparseSoftmaxCE, IgnoreClassZeroesLossAndGrad) {
  const int64_t n = 4, c = 3;
  const auto z = random_logits(n, c, 3.0f, 13);
  std::vector<int32_t> y = {255, 1, 255, 2};  // 255 is out of range but ignored
  std::vector<float> loss(n), grad(n * c, 7.0f);
  ASSERT_TRUE(sparse_softmax_cross_entropy(z.data(), n, c, y.data(), true, 255, nullptr,
                                           loss.data(), grad.data())
                  .ok());
  for (int64_t i : {0, 2}) {
    EXPECT_EQ(loss[i], 0.0f);
    for (int64_t j = 0; j < c; ++j) EXPECT_EQ(grad[i * c + j], 0.0f);
  }
  for (int64_t i : {1, 3}) {
    const auto lp = log_softmax_ref(&z[i * c], c);
    EXPECT_NEAR(loss[i], -lp[y[i]], 1e-5);
  }
}

TEST(LossSparseSoftmaxCE, BadLabelIsReportedAndNothingWritten) {
  const int64_t n = 3, c = 10;
  const auto z = random_logits(n, c, 1.0f, 17);
  std::vector<float> loss(n, -3.0f);
  for (int64_t bad : {10, -1, 1000}) {
    std::vector<int64_t> y = {1, bad, 2};
    const LabelCheck r = sparse_softmax_cross_entropy(z.data(), n, c, y.data(), false, 0, nullptr,
                                                      loss.data(), nullptr);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.bad_row, 1);
    EXPECT_EQ(r.bad_label, bad);
    for (float v : loss) EXPECT_EQ(v, -3.0f);
  }
  // A valid ignore_class does not excuse a different bad label.
  std::vector<int32_t> y = {-1, 12, 0};
  const LabelCheck r = sparse_softmax_cross_entropy(z.data(), n, c, y.data(), true, -1, nullptr,
                                                    loss.data(), nullptr);
  EXPECT_EQ(r.bad_row, 1);
  EXPECT_EQ(r.bad_label, 12);
}

void check_dense(int64_t n, int64_t c, float spread, float smoothing, bool soft, int threads) {
  const auto z = random_logits(n, c, spread, static_cast<uint32_t>(n * 31 + c));
  std::mt19937 rng(static_cast<uint32_t>(c * 17 + n));
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> t(n * c, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    if (soft) {
      for (int64_t j = 0; j < c; ++j) t[i * c + j] = u(rng);  // need not sum to 1
    } else {
      t[i * c + static_cast<int64_t>(rng() % c)] = 1.0f;
    }
  }
  const auto scale = random_scale(n, 9);
  std::vector<float> loss(n), grad(n * c);
  set_num_threads(threads);
  softmax_cross_entropy(z.data(), t.data(), n, c, smoothing, scale.data(), loss.data(),
                        grad.data());
  set_num_threads(0);
  for (int64_t i = 0; i < n; ++i) {
    const auto lp = log_softmax_ref(&z[i * c], c);
    double ref = 0.0, tsum = 0.0;
    std::vector<double> ts(c);
    for (int64_t j = 0; j < c; ++j) {
      ts[j] = t[i * c + j] * (1.0 - smoothing) + smoothing / static_cast<double>(c);
      tsum += ts[j];
      ref -= ts[j] * lp[j];
    }
    ASSERT_TRUE(std::isfinite(loss[i]));
    ASSERT_NEAR(loss[i], ref, tol(ref, c)) << n << "x" << c << " row " << i;
    for (int64_t j = 0; j < c; ++j) {
      const double g = scale[i] * (std::exp(lp[j]) * tsum - ts[j]);
      ASSERT_TRUE(std::isfinite(grad[i * c + j]));
      ASSERT_NEAR(grad[i * c + j], g, 2e-5 * (1.0 + std::fabs(scale[i] * tsum)))
          << n << "x" << c << " " << i << "," << j;
    }
  }
}

TEST(LossSoftmaxCE, MatchesReference) {
  for (int64_t n : {1, 5, 33}) {
    for (int64_t c : {1, 2, 10, 1001}) {
      for (float ls : {0.0f, 0.1f}) {
        check_dense(n, c, 4.0f, ls, false, 1);
        check_dense(n, c, 4.0f, ls, true, 1);
      }
    }
  }
}

TEST(LossSoftmaxCE, ExtremeLogitsStayFinite) {
  for (float spread : {100.0f, 1e4f}) {
    for (int64_t c : {1, 2, 10, 1001}) {
      check_dense(6, c, spread, 0.0f, false, 1);
      check_dense(6, c, spread, 0.2f, true, 1);
    }
  }
}

TEST(LossSoftmaxCE, ThreadsGiveSameResult) {
  for (int threads : {2, 3}) check_dense(513, 1001, 8.0f, 0.1f, true, threads);
}

TEST(LossSoftmaxCE, NullScaleMeansOne) {
  const int64_t n = 2, c = 3;
  const auto z = random_logits(n, c, 2.0f, 3);
  std::vector<float> t = {0, 1, 0, 1, 0, 0};
  std::vector<float> ones(n, 1.0f), l1(n), l2(n), g1(n * c), g2(n * c);
  softmax_cross_entropy(z.data(), t.data(), n, c, 0.0f, nullptr, l1.data(), g1.data());
  softmax_cross_entropy(z.data(), t.data(), n, c, 0.0f, ones.data(), l2.data(), g2.data());
  for (int64_t k = 0; k < n * c; ++k) EXPECT_EQ(g1[k], g2[k]);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(l1[i], l2[i]);
}

void check_bce(int64_t n, int64_t d, float spread, float smoothing, int threads) {
  const auto z = random_logits(n, d, spread, static_cast<uint32_t>(n * 101 + d));
  std::mt19937 rng(static_cast<uint32_t>(d + n));
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> t(n * d);
  for (int64_t k = 0; k < n * d; ++k) t[k] = (k % 3 == 0) ? u(rng) : static_cast<float>(rng() % 2);
  const auto scale = random_scale(n, 21);
  std::vector<float> loss(n), grad(n * d);
  set_num_threads(threads);
  sigmoid_binary_cross_entropy(z.data(), t.data(), n, d, smoothing, scale.data(), loss.data(),
                               grad.data());
  set_num_threads(0);
  for (int64_t i = 0; i < n; ++i) {
    double ref = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      const double x = z[i * d + j];
      const double tt = t[i * d + j] * (1.0 - smoothing) + 0.5 * smoothing;
      // -t log(sigmoid(x)) - (1 - t) log(1 - sigmoid(x)), with log-sigmoid in a safe form.
      const double log_sig = -(std::max(-x, 0.0) + std::log1p(std::exp(-std::fabs(x))));
      const double log_one_minus = -(std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))));
      ref += -tt * log_sig - (1.0 - tt) * log_one_minus;
      const double sig = 1.0 / (1.0 + std::exp(-x));
      const double g = scale[i] * (sig - tt) / static_cast<double>(d);
      ASSERT_TRUE(std::isfinite(grad[i * d + j]));
      ASSERT_NEAR(grad[i * d + j], g, 1e-6 * (1.0 + scale[i])) << i << "," << j;
    }
    ref /= static_cast<double>(d);
    ASSERT_TRUE(std::isfinite(loss[i]));
    ASSERT_NEAR(loss[i], ref, tol(ref, d)) << n << "x" << d << " row " << i;
  }
}

TEST(LossSigmoidBCE, MatchesReference) {
  for (int64_t n : {1, 4, 50}) {
    for (int64_t d : {1, 2, 10, 1001}) {
      check_bce(n, d, 6.0f, 0.0f, 1);
      check_bce(n, d, 6.0f, 0.2f, 1);
    }
  }
}

TEST(LossSigmoidBCE, ExtremeLogitsStayFinite) {
  for (float spread : {100.0f, 1e4f}) {
    for (int64_t d : {1, 2, 10, 1001}) check_bce(5, d, spread, 0.0f, 1);
  }
  std::vector<float> z = {1e4f, -1e4f, 100.0f, -100.0f};
  std::vector<float> t = {1.0f, 0.0f, 0.0f, 1.0f};
  std::vector<float> loss(4), grad(4);
  sigmoid_binary_cross_entropy(z.data(), t.data(), 4, 1, 0.0f, nullptr, loss.data(), grad.data());
  EXPECT_FLOAT_EQ(loss[0], 0.0f);
  EXPECT_FLOAT_EQ(loss[1], 0.0f);
  EXPECT_FLOAT_EQ(loss[2], 100.0f);
  EXPECT_FLOAT_EQ(loss[3], 100.0f);
  EXPECT_FLOAT_EQ(grad[0], 0.0f);
  EXPECT_FLOAT_EQ(grad[2], 1.0f);
  EXPECT_FLOAT_EQ(grad[3], -1.0f);
}

TEST(LossSigmoidBCE, ThreadsGiveSameResult) {
  for (int threads : {2, 3}) check_bce(800, 1001, 5.0f, 0.1f, threads);
}

TEST(LossSoftmaxRows, MatchesReference) {
  for (int64_t n : {1, 3, 33}) {
    for (int64_t c : {1, 2, 7, 10, 129}) {
      auto z = random_logits(n, c, 30.0f, static_cast<uint32_t>(n * 1000 + c));
      std::vector<float> out(n * c);
      softmax_rows(z.data(), n, c, out.data());
      for (int64_t i = 0; i < n; ++i) {
        double m = -INFINITY;
        for (int64_t j = 0; j < c; ++j) m = std::max(m, static_cast<double>(z[i * c + j]));
        double s = 0.0;
        for (int64_t j = 0; j < c; ++j) s += std::exp(z[i * c + j] - m);
        for (int64_t j = 0; j < c; ++j) {
          const double want = std::exp(z[i * c + j] - m) / s;
          EXPECT_NEAR(out[i * c + j], want, 1e-6 + 1e-5 * want) << n << "x" << c;
        }
      }
    }
  }
}

TEST(LossSoftmaxRows, NanAndInfRows) {
  const float inf = INFINITY;
  std::vector<float> z = {NAN, 1.0f, 2.0f, -inf, -inf, -inf, 1e30f, -1e30f, 0.0f};
  std::vector<float> out(9);
  softmax_rows(z.data(), 3, 3, out.data());
  for (int j = 0; j < 3; ++j) EXPECT_TRUE(std::isnan(out[j]));
  for (int j = 3; j < 6; ++j) EXPECT_TRUE(std::isnan(out[j]));
  EXPECT_FLOAT_EQ(out[6], 1.0f);
  EXPECT_FLOAT_EQ(out[7], 0.0f);
  EXPECT_FLOAT_EQ(out[8], 0.0f);
}

TEST(LossSoftmaxRows, InPlaceAndThreads) {
  const int64_t n = 4099, c = 10;
  auto z = random_logits(n, c, 5.0f, 7);
  std::vector<float> one(n * c), inplace = z;
  set_num_threads(1);
  softmax_rows(z.data(), n, c, one.data());
  set_num_threads(0);
  softmax_rows(inplace.data(), n, c, inplace.data());
  EXPECT_EQ(one, inplace);
}

}  // namespace
}  // namespace fastkeras
