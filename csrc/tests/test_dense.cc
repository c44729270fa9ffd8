// dense_backward against naive loops: relu mask, input/kernel/bias gradients, accumulation.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/dense/dense.h"

namespace fastkeras {
namespace {

void check(int64_t batch, int64_t in, int64_t units, bool relu, float beta) {
  std::mt19937 rng(static_cast<uint32_t>(batch * 1000 + in * 10 + units));
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> x(batch * in), w(in * units), y(batch * units), dy(batch * units);
  for (auto* v : {&x, &w, &y, &dy})
    for (auto& e : *v) e = d(rng);
  std::vector<float> dx(batch * in), dw(in * units, 0.5f), db(units, 0.25f);
  DenseBackwardArgs a;
  a.batch = batch;
  a.in = in;
  a.units = units;
  a.x = x.data();
  a.ldx = in;
  a.w = w.data();
  a.y = y.data();
  a.dy = dy.data();
  a.act = relu ? Activation::kRelu : Activation::kIdentity;
  a.dx = dx.data();
  a.dw = dw.data();
  a.db = db.data();
  a.beta = beta;
  dense_backward(a);
  auto dz = [&](int64_t i, int64_t u) {
    float g = dy[i * units + u];
    return (relu && !(y[i * units + u] > 0)) ? 0.0f : g;
  };
  for (int64_t k = 0; k < in; ++k)
    for (int64_t u = 0; u < units; ++u) {
      double ref = beta * 0.5;
      for (int64_t i = 0; i < batch; ++i) ref += double(x[i * in + k]) * dz(i, u);
      ASSERT_NEAR(dw[k * units + u], ref, 1e-4) << k << "," << u;
    }
  for (int64_t u = 0; u < units; ++u) {
    double ref = beta * 0.25;
    for (int64_t i = 0; i < batch; ++i) ref += dz(i, u);
    ASSERT_NEAR(db[u], ref, 1e-4);
  }
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t k = 0; k < in; ++k) {
      double ref = 0;
      for (int64_t u = 0; u < units; ++u) ref += double(dz(i, u)) * w[k * units + u];
      ASSERT_NEAR(dx[i * in + k], ref, 1e-4);
    }
}

TEST(DenseBackward, MatchesNaiveLoops) {
  for (bool relu : {false, true})
    for (float beta : {0.0f, 1.0f}) {
      check(1, 1, 1, relu, beta);
      check(7, 13, 5, relu, beta);
      check(32, 784, 300, relu, beta);
      check(33, 100, 10, relu, beta);
    }
}

TEST(DenseBackward, OptionalOutputsAreSkipped) {
  std::vector<float> x(6, 1.0f), w(6, 1.0f), dy(4, 1.0f), dw(6);
  DenseBackwardArgs a;
  a.batch = 2;
  a.in = 3;
  a.units = 2;
  a.x = x.data();
  a.ldx = 3;
  a.w = w.data();
  a.dy = dy.data();
  a.dw = dw.data();
  dense_backward(a);  // dx and db are null: not touched
  for (float v : dw) EXPECT_EQ(v, 2.0f);
}

// dw = w, db = bias, beta = 1, alpha = -lr: the kernel and bias take an SGD step in place, and
// dx still comes from the kernel as it was before the step.
TEST(DenseBackward, InPlaceSgdStepUsesTheOldKernelForDx) {
  for (int64_t batch : {1, 5, 32}) {
    for (auto [in, units] : {std::pair<int64_t, int64_t>{3, 2}, {37, 19}, {784, 300}}) {
      std::mt19937 rng(static_cast<uint32_t>(batch + in + units));
      std::uniform_real_distribution<float> d(-1, 1);
      std::vector<float> x(batch * in), w(in * units), b(units), y(batch * units),
          dy(batch * units), dx(batch * in);
      for (auto* v : {&x, &w, &b, &y, &dy})
        for (auto& e : *v) e = d(rng);
      const std::vector<float> w0 = w, b0 = b;
      const float lr = 0.05f;
      DenseBackwardArgs a;
      a.batch = batch;
      a.in = in;
      a.units = units;
      a.x = x.data();
      a.ldx = in;
      a.w = w.data();
      a.y = y.data();
      a.dy = dy.data();
      a.act = Activation::kRelu;
      a.dx = dx.data();
      a.dw = w.data();
      a.db = b.data();
      a.beta = 1.0f;
      a.alpha = -lr;
      dense_backward(a);
      auto dz = [&](int64_t i, int64_t u) {
        return y[i * units + u] > 0 ? dy[i * units + u] : 0.0f;
      };
      for (int64_t k = 0; k < in; ++k)
        for (int64_t u = 0; u < units; ++u) {
          double g = 0;
          for (int64_t i = 0; i < batch; ++i) g += double(x[i * in + k]) * dz(i, u);
          ASSERT_NEAR(w[k * units + u], w0[k * units + u] - lr * g, 1e-5);
        }
      for (int64_t u = 0; u < units; ++u) {
        double g = 0;
        for (int64_t i = 0; i < batch; ++i) g += dz(i, u);
        ASSERT_NEAR(b[u], b0[u] - lr * g, 1e-5);
      }
      for (int64_t i = 0; i < batch; ++i)
        for (int64_t k = 0; k < in; ++k) {
          double ref = 0;
          for (int64_t u = 0; u < units; ++u) ref += double(dz(i, u)) * w0[k * units + u];
          ASSERT_NEAR(dx[i * in + k], ref, 1e-4);
        }
    }
  }
}

}  // namespace
}  // namespace fastkeras
