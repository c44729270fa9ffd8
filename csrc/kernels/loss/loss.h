// Fused, numerically stable cross-entropy kernels: each call computes the per-row loss and,
// optionally, the gradient with respect to the logits in the same pass over the data.
//
// All matrices are row-major and contiguous: `n` rows (samples) of `c` (or `d`) columns.
// Gradients are scaled per row by `scale[i]` (nullptr means 1): callers fold the sample
// weight and the reduction's 1/N into it, so the returned gradient is already the gradient of
// the reduced scalar loss.
#pragma once

#include <cstdint>

namespace fastkeras {

// Result of the label check done before any output is written.
struct LabelCheck {
  int64_t bad_row = -1;   // first row whose label is outside [0, c), or -1 when all are valid
  int64_t bad_label = 0;  // that label
  bool ok() const { return bad_row < 0; }
};

// Sparse softmax cross-entropy with integer labels:
//   loss[i] = logsumexp(z[i, :]) - z[i, labels[i]]
//   grad[i, j] = scale[i] * (softmax(z[i, :])[j] - (j == labels[i]))
// Rows whose label equals `ignore_class` (when has_ignore) get loss 0 and a zero gradient.
// Labels are validated first; if one is out of range nothing is written and the returned
// LabelCheck names it. `grad` may be nullptr (loss only).
LabelCheck sparse_softmax_cross_entropy(const float* logits, int64_t n, int64_t c,
                                        const int32_t* labels, bool has_ignore,
                                        int64_t ignore_class, const float* scale, float* loss,
                                        float* grad);
LabelCheck sparse_softmax_cross_entropy(const float* logits, int64_t n, int64_t c,
                                        const int64_t* labels, bool has_ignore,
                                        int64_t ignore_class, const float* scale, float* loss,
                                        float* grad);

// Dense softmax cross-entropy with soft or one-hot targets. Targets are smoothed first as
// Keras does, t' = t * (1 - label_smoothing) + label_smoothing / c, then
//   loss[i] = sum_j t'[i, j] * (logsumexp(z[i, :]) - z[i, j])
//   grad[i, j] = scale[i] * (softmax(z[i, :])[j] * sum_k t'[i, k] - t'[i, j])
void softmax_cross_entropy(const float* logits, const float* targets, int64_t n, int64_t c,
                           float label_smoothing, const float* scale, float* loss, float* grad);

// Sigmoid binary cross-entropy on logits, averaged over the d columns of each row. Targets are
// smoothed towards 0.5 first, t' = t * (1 - label_smoothing) + 0.5 * label_smoothing, then
//   loss[i] = mean_j max(z, 0) - z * t' + log1p(exp(-|z|))
//   grad[i, j] = scale[i] * (sigmoid(z) - t') / d
void sigmoid_binary_cross_entropy(const float* logits, const float* targets, int64_t n, int64_t d,
                                  float label_smoothing, const float* scale, float* loss,
                                  float* grad);

// Row-wise softmax of an (n, c) matrix: out[i, j] = exp(z[i, j] - max_i) / sum_j exp(...).
// A row holding a NaN gives NaNs (as does a row of -inf); out may alias z.
void softmax_rows(const float* z, int64_t n, int64_t c, float* out);

}  // namespace fastkeras
