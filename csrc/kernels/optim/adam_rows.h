// Adam's element loop over [begin, end), shared by the portable build of optim.cc and the
// per-ISA files (ukernel_avx2_adam.cc, ukernel_avx512_adam.cc), which compile the same loop with
// wider vectors. Internal linkage, so each file keeps its own copy compiled with its own flags.
// Those files are built without floating-point contraction: every operation rounds, as in the
// portable build (see optim.h).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/optim/optim.h"

namespace fastkeras::optim {
namespace {

inline void adam_rows_impl(float* __restrict var, const float* __restrict grad, float* __restrict m,
                           float* __restrict v, float* __restrict velocity_hat, int64_t begin,
                           int64_t end, const AdamParams& p) {
  const float alpha = p.alpha, c1 = p.one_minus_beta_1, c2 = p.one_minus_beta_2;
  const float eps = p.epsilon;
  if (velocity_hat == nullptr) {
    for (int64_t i = begin; i < end; ++i) {
      const float g = grad[i];
      const float mi = m[i] + (g - m[i]) * c1;
      const float vi = v[i] + (g * g - v[i]) * c2;
      m[i] = mi;
      v[i] = vi;
      var[i] = var[i] - (mi * alpha) / (std::sqrt(vi) + eps);
    }
    return;
  }
  for (int64_t i = begin; i < end; ++i) {
    const float g = grad[i];
    const float mi = m[i] + (g - m[i]) * c1;
    const float vi = v[i] + (g * g - v[i]) * c2;
    const float vh = std::max(velocity_hat[i], vi);
    m[i] = mi;
    v[i] = vi;
    velocity_hat[i] = vh;
    var[i] = var[i] - (mi * alpha) / (std::sqrt(vh) + eps);
  }
}

}  // namespace

// The same loop compiled for AVX2 and AVX-512 (x86-64 builds only).
void adam_rows_avx2(float* var, const float* grad, float* m, float* v, float* velocity_hat,
                    int64_t begin, int64_t end, const AdamParams& p);
void adam_rows_avx512(float* var, const float* grad, float* m, float* v, float* velocity_hat,
                      int64_t begin, int64_t end, const AdamParams& p);

}  // namespace fastkeras::optim
