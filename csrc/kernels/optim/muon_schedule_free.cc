#include "kernels/optim/muon_schedule_free.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "kernels/optim/chunks.h"
#include "kernels/optim/optim.h"
#include "kernels/parallel.h"

// One rounding per operation, as in optim.cc: no contraction into fused multiply-adds.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__) && !defined(__x86_64__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace fastkeras::optim {
namespace {

// c (m x n) = a (m x k) * op(b), row-major and dense.
void matmul(const float* a, const float* b, bool b_transposed, float* c, int64_t m, int64_t n,
            int64_t k) {
  GemmArgs g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a;
  g.lda = k;
  g.b = b;
  g.trans_b = b_transposed ? Trans::kYes : Trans::kNo;
  g.ldb = b_transposed ? k : n;
  g.c = c;
  g.ldc = n;
  sgemm(g);
}

}  // namespace

void newton_schulz(const float* g, float* out, int64_t rows, int64_t cols,
                   const NewtonSchulzParams& p) {
  if (rows <= 0 || cols <= 0) return;
  const bool transposed = rows > cols;
  const int64_t m = transposed ? cols : rows;  // rows of the wide working matrix X
  const int64_t k = transposed ? rows : cols;
  const int64_t n = m * k;
  std::vector<float> x(static_cast<size_t>(n));
  if (transposed) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) x[j * k + i] = g[i * cols + j];
    }
  } else {
    std::copy(g, g + n, x.begin());
  }

  const float norm = static_cast<float>(std::sqrt(sum_squares(x.data(), n)));
  const float denom = norm + p.epsilon;
  float* xp = x.data();
  for_chunks(n, 1.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) xp[i] = xp[i] / denom;
  });

  if (p.steps > 0) {
    const int64_t mm = m * m;
    std::vector<float> gram(static_cast<size_t>(mm)), scaled(static_cast<size_t>(mm));
    std::vector<float> prod(static_cast<size_t>(mm)), poly(static_cast<size_t>(mm));
    std::vector<float> step(static_cast<size_t>(n));
    const float a = p.a, b = p.b, c = p.c;
    float* gp = gram.data();
    float* sp = scaled.data();
    float* pp = prod.data();
    float* qp = poly.data();
    float* tp = step.data();
    for (int it = 0; it < p.steps; ++it) {
      matmul(xp, xp, /*b_transposed=*/true, gp, m, m, k);  // A = X X^T
      for_chunks(mm, 1.0, [=](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) sp[i] = c * gp[i];
      });
      matmul(sp, gp, false, pp, m, m, m);  // (c A) A
      for_chunks(mm, 2.0, [=](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) qp[i] = b * gp[i] + pp[i];
      });
      matmul(qp, xp, false, tp, m, k, m);  // B X
      for_chunks(n, 2.0, [=](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) xp[i] = a * xp[i] + tp[i];
      });
    }
  }

  if (transposed) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = x[j * k + i];
    }
  } else {
    std::copy(x.begin(), x.end(), out);
  }
}

void muon_update(float* var, const float* grad, float* m, int64_t rows, int64_t cols,
                 const MuonParams& p) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t n = rows * cols;
  std::vector<float> u(static_cast<size_t>(n)), o(static_cast<size_t>(n));
  float* up = u.data();
  const float mu = p.momentum, mum1 = p.momentum_minus_1;
  if (p.nesterov) {
    for_chunks(n, 5.0, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float g = grad[i];
        const float mi = m[i] + (g + m[i] * mum1);
        m[i] = mi;
        up[i] = g + mu * mi;
      }
    });
  } else {
    for_chunks(n, 3.0, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float mi = m[i] + (grad[i] + m[i] * mum1);
        m[i] = mi;
        up[i] = mi;
      }
    });
  }
  newton_schulz(up, o.data(), rows, cols, p.ns);
  const float* op = o.data();
  const float lr = p.learning_rate, scale = p.dim_scale, rate = p.rms_rate;
  if (p.adjust) {
    for_chunks(n, 4.0, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) var[i] = var[i] - ((lr * op[i]) * scale) * rate;
    });
  } else {
    for_chunks(n, 2.0, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) var[i] = var[i] - lr * op[i];
    });
  }
}

void schedule_free_adamw_update(float* var, const float* grad, float* z, float* v, int64_t n,
                                const ScheduleFreeAdamWParams& p) {
  const float lr = p.learning_rate, c2 = p.one_minus_beta_2, bc2 = p.bias_correction_2;
  const float eps = p.epsilon, b1 = p.beta_1, c1 = p.one_minus_beta_1;
  const float w = p.weight, omw = p.one_minus_weight;
  const bool updated = p.x_from_updated_z;
  for_chunks(n, 18.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = grad[i];
      const float vi = v[i] + (g * g - v[i]) * c2;
      const float denom = std::sqrt(vi / bc2) + eps;
      const float zi = z[i] - (lr * g) / denom;
      const float x_old = (var[i] - c1 * (updated ? zi : z[i])) / b1;
      const float x_new = omw * x_old + w * zi;
      v[i] = vi;
      z[i] = zi;
      var[i] = c1 * zi + b1 * x_new;
    }
  });
}

void scale_weights(float* var, int64_t n, float factor) {
  for_chunks(n, 1.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) var[i] = var[i] * factor;
  });
}

}  // namespace fastkeras::optim
