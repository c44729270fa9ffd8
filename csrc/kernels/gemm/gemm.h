// Single-precision GEMM with a fused epilogue:
//
//   C = act(alpha * op(A) * op(B) + beta * C + bias)
//
// Row-major float32 with leading dimensions (so it runs on views); op(X) is X or X^T.
// op(A) is M x K, op(B) is K x N, C is M x N. bias (length N, may be null) is added to every
// row. With beta == 0, C is only written, never read (NaNs in it do not leak through).
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"

namespace fastkeras {

enum class Trans { kNo, kYes };
enum class Activation { kIdentity, kRelu };

struct GemmArgs {
  Trans trans_a = Trans::kNo;
  Trans trans_b = Trans::kNo;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float beta = 0.0f;
  float* c = nullptr;
  int64_t ldc = 0;
  const float* bias = nullptr;  // length n, or null
  Activation act = Activation::kIdentity;
};

// Runs on the fastest ISA this CPU supports (chosen once), on up to num_threads() threads.
void sgemm(const GemmArgs& args);
// Same, on a given ISA (for tests and benchmarks); the ISA must be isa_supported().
void sgemm_isa(Isa isa, const GemmArgs& args);

// The ISA sgemm() dispatches to now. set_gemm_isa overrides it (must be supported).
Isa gemm_isa();
void set_gemm_isa(Isa isa);

}  // namespace fastkeras
