// Batch normalization over one axis of a C-contiguous float32 tensor, fused per channel.
//
// The tensor is seen as (outer, channels, inner): the normalized axis in the middle, every axis
// before it folded into `outer` and every axis after it into `inner`. Channels-last data
// (N, H, W, C) is (N*H*W, C, 1); channels-first data (N, C, H, W) is (N, C, H*W). Statistics are
// per channel, over the outer*inner elements that share it.
//
//   y = (x - mean) * inv_std * gamma + beta,   inv_std = 1 / sqrt(var + epsilon)
//
// gamma and beta may be null (taken as 1 and 0). Reductions accumulate in double; the work is
// split across threads by rows or by channels, whichever the shape allows.
#pragma once

#include <cstdint>

namespace fastkeras {

struct BatchNormShape {
  int64_t outer = 0;
  int64_t channels = 0;
  int64_t inner = 1;

  int64_t per_channel() const { return outer * inner; }
  int64_t size() const { return outer * channels * inner; }
};

// Training mode: computes the batch mean and biased variance of every channel, writes them to
// `mean`, `var` and 1/sqrt(var + epsilon) to `inv_std` (each `channels` long, all required),
// then normalizes x into y. Two passes over x (statistics, then normalization). With no
// elements per channel the statistics are 0 and y is empty.
void batchnorm_forward_train(const BatchNormShape& s, const float* x, const float* gamma,
                             const float* beta, float epsilon, float* y, float* mean, float* var,
                             float* inv_std);

// Inference mode: normalizes x with the given per-channel mean and variance, in one pass.
void batchnorm_forward_infer(const BatchNormShape& s, const float* x, const float* mean,
                             const float* var, const float* gamma, const float* beta, float epsilon,
                             float* y);

// Backward of either forward. `mean` and `inv_std` are the statistics the forward used.
// With batch_stats (training mode) they were computed from x, so dx includes the gradient that
// flows through them:
//   dx = gamma * inv_std * (dy - sum(dy) / n - xhat * sum(dy * xhat) / n)
// Without it (inference statistics, treated as constants) dx = gamma * inv_std * dy.
// dgamma = sum(dy * xhat), dbeta = sum(dy), with xhat = (x - mean) * inv_std.
// Any of dx, dgamma, dbeta may be null (not computed). One reduction pass plus one pass for dx.
void batchnorm_backward(const BatchNormShape& s, const float* x, const float* dy, const float* mean,
                        const float* inv_std, const float* gamma, bool batch_stats, float* dx,
                        float* dgamma, float* dbeta);

}  // namespace fastkeras
