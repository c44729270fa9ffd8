// dense_backward against naive loops: relu mask, input/kernel/bias gradients, accumulation.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/dense/dense.h"

namespace fastkeras {
namespace {

// The gradients by the definition, in double: dz = dy masked by relu, dW = x^T dz,
// db = column sums of dz, dx = dz W^T.
struct NaiveGrads {
  std::vector<double> dw, db, dx;
};

NaiveGrads naive_grads(const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& y, const std::vector<float>& dy, int64_t batch,
                       int64_t in, int64_t units, bool relu) {
  auto dz = [&](int64_t i, int64_t u) {
    return (relu && !(y[i * units + u] > 0)) ? 0.0 : double(dy[i * units + u]);
  };
  NaiveGrads r{std::vector<double>(in * units, 0.0), std::vector<double>(units, 0.0),
               std::vector<double>(batch * in, 0.0)};
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t u = 0; u < units; ++u) {
      const double g = dz(i, u);
      r.db[u] += g;
      for (int64_t k = 0; k < in; ++k) {
        r.dw[k * units + u] += double(x[i * in + k]) * g;
        r.dx[i * in + k] += g * w[k * units + u];
      }
    }
  return r;
}

// The arguments every test sets: shapes, x (row stride `in`), w, y and dy.
DenseBackwardArgs args_for(int64_t batch, int64_t in, int64_t units, const std::vector<float>& x,
                           const std::vector<float>& w, const std::vector<float>& y,
                           const std::vector<float>& dy, bool relu) {
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
  return a;
}

void check(int64_t batch, int64_t in, int64_t units, bool relu, float beta) {
  std::mt19937 rng(static_cast<uint32_t>(batch * 1000 + in * 10 + units));
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> x(batch * in), w(in * units), y(batch * units), dy(batch * units);
  for (auto* v : {&x, &w, &y, &dy})
    for (auto& e : *v) e = d(rng);
  std::vector<float> dx(batch * in), dw(in * units, 0.5f), db(units, 0.25f);
  DenseBackwardArgs a = args_for(batch, in, units, x, w, y, dy, relu);
  a.dx = dx.data();
  a.dw = dw.data();
  a.db = db.data();
  a.beta = beta;
  dense_backward(a);
  const NaiveGrads ref = naive_grads(x, w, y, dy, batch, in, units, relu);
  for (int64_t k = 0; k < in * units; ++k)
    ASSERT_NEAR(dw[k], beta * 0.5 + ref.dw[k], 1e-4) << "dw[" << k << "]";
  for (int64_t u = 0; u < units; ++u) ASSERT_NEAR(db[u], beta * 0.25 + ref.db[u], 1e-4);
  for (int64_t i = 0; i < batch * in; ++i) ASSERT_NEAR(dx[i], ref.dx[i], 1e-4);
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
      DenseBackwardArgs a = args_for(batch, in, units, x, w, y, dy, true);
      a.dx = dx.data();
      a.dw = w.data();
      a.db = b.data();
      a.beta = 1.0f;
      a.alpha = -lr;
      dense_backward(a);
      const NaiveGrads ref = naive_grads(x, w0, y, dy, batch, in, units, true);
      for (int64_t k = 0; k < in * units; ++k) ASSERT_NEAR(w[k], w0[k] - lr * ref.dw[k], 1e-5);
      for (int64_t u = 0; u < units; ++u) ASSERT_NEAR(b[u], b0[u] - lr * ref.db[u], 1e-5);
      for (int64_t i = 0; i < batch * in; ++i) ASSERT_NEAR(dx[i], ref.dx[i], 1e-4);
    }
  }
}

}  // namespace
}  // namespace fastkeras
