#include "kernels/dense/dense.h"

#include <vector>

#include "kernels/elementwise/bias.h"

namespace fastkeras {

void dense_backward(const DenseBackwardArgs& a) {
  if (a.batch <= 0 || a.units <= 0) return;
  const float* dz = a.dy;
  // relu passes the gradient only where the output was positive: dz = dy * (y > 0).
  thread_local std::vector<float> masked;
  if (a.act == Activation::kRelu) {
    const int64_t n = a.batch * a.units;
    if (static_cast<int64_t>(masked.size()) < n) masked.resize(n);
    relu_backward(a.y, a.dy, masked.data(), n);
    dz = masked.data();
  }
  if (a.dx) {
    GemmArgs g;  // dx = dz W^T
    g.trans_b = Trans::kYes;
    g.m = a.batch;
    g.n = a.in;
    g.k = a.units;
    g.a = dz;
    g.lda = a.units;
    g.b = a.w;
    g.ldb = a.units;
    g.c = a.dx;
    g.ldc = a.in;
    sgemm(g);
  }
  if (a.dw) {
    GemmArgs g;  // dW = x^T dz
    g.trans_a = Trans::kYes;
    g.m = a.in;
    g.n = a.units;
    g.k = a.batch;
    g.a = a.x;
    g.lda = a.ldx;
    g.b = dz;
    g.ldb = a.units;
    g.alpha = a.alpha;
    g.beta = a.beta;
    g.c = a.dw;
    g.ldc = a.units;
    sgemm(g);
  }
  if (a.db) column_sums(dz, a.batch, a.units, a.units, a.beta, a.db, a.alpha);
}

}  // namespace fastkeras
