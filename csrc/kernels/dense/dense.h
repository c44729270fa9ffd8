// A Dense layer's backward pass in one call: the activation's derivative, the kernel and bias
// gradients and the input gradient, all on the foundation's GEMM.
#pragma once

#include <cstdint>

#include "kernels/gemm/gemm.h"

namespace fastkeras {

struct DenseBackwardArgs {
  int64_t batch = 0, in = 0, units = 0;
  const float* x = nullptr;  // (batch, in), leading dim ldx
  int64_t ldx = 0;
  const float* w = nullptr;   // (in, units), row-major contiguous
  const float* y = nullptr;   // (batch, units) forward output (for relu's mask), may be null
  const float* dy = nullptr;  // (batch, units) upstream gradient
  Activation act = Activation::kIdentity;
  float* dx = nullptr;  // (batch, in) or null when the input needs no gradient
  float* dw = nullptr;  // (in, units) or null
  float* db = nullptr;  // (units) or null
  float beta = 0.0f;    // dw/db = alpha * grad + beta * dw/db (beta 1 accumulates)
  float alpha = 1.0f;   // with dw = w, db = bias, beta = 1, alpha = -lr: an SGD step
};

// dx is computed first, from w as it was, so dw may be w itself (the in-place SGD step above).

void dense_backward(const DenseBackwardArgs& args);

}  // namespace fastkeras
