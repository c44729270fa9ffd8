// Bias and activation helpers for the backward pass.
#pragma once

#include <cstdint>

namespace fastkeras {

// out[j] = beta * out[j] + alpha * sum_i x[i, j] over a rows x cols row-major view (leading dim
// ldx): the bias gradient of a Dense layer (column sums of the output gradient), or with
// beta = 1 and alpha = -lr an SGD step on the bias itself. beta == 0 means out is only written.
void column_sums(const float* x, int64_t rows, int64_t cols, int64_t ldx, float beta, float* out,
                 float alpha = 1.0f);

// out[i] = y[i] > 0 ? dy[i] : 0: relu's backward given its output y. Branch-free (so it
// vectorizes) and threaded for large n. out may be dy itself.
void relu_backward(const float* y, const float* dy, float* out, int64_t n);

}  // namespace fastkeras
