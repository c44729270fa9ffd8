#include "kernels/elementwise/bias.h"

#include <algorithm>

#include "kernels/parallel.h"

namespace fastkeras {
namespace {

// Columns per chunk: 256 floats of accumulators stay in registers/L1 while rows stream by.
constexpr int64_t kChunk = 256;

void column_sums_chunk(const float* x, int64_t rows, int64_t j0, int64_t j1, int64_t ldx,
                       float beta, float alpha, float* out) {
  float acc[kChunk];
  const int64_t w = j1 - j0;
  for (int64_t j = 0; j < w; ++j) acc[j] = 0.0f;
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = x + i * ldx + j0;
    for (int64_t j = 0; j < w; ++j) acc[j] += row[j];
  }
  if (alpha != 1.0f) {
    for (int64_t j = 0; j < w; ++j) acc[j] *= alpha;
  }
  for (int64_t j = 0; j < w; ++j) {
    out[j0 + j] = beta != 0.0f ? beta * out[j0 + j] + acc[j] : acc[j];
  }
}

}  // namespace

void column_sums(const float* x, int64_t rows, int64_t cols, int64_t ldx, float beta, float* out,
                 float alpha) {
  if (cols <= 0) return;
  const int64_t chunks = (cols + kChunk - 1) / kChunk;
  const int threads = threads_for(static_cast<double>(rows) * cols, chunks);
  run_parallel(threads, [&](int t) {
    for (int64_t c = t; c < chunks; c += threads) {
      const int64_t j0 = c * kChunk;
      column_sums_chunk(x, rows, j0, std::min(cols, j0 + kChunk), ldx, beta, alpha, out);
    }
  });
}

void relu_backward(const float* y, const float* dy, float* out, int64_t n) {
  constexpr int64_t kGrain = 1 << 14;
  const int64_t chunks = (n + kGrain - 1) / kGrain;
  const int threads = threads_for(static_cast<double>(n) * 8.0, chunks);
  run_parallel(threads, [&](int t) {
    const int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
    const float* __restrict yy = y + lo;
    const float* dd = dy + lo;
    float* oo = out + lo;
    for (int64_t i = 0; i < hi - lo; ++i) {
      const float g = dd[i];
      oo[i] = yy[i] > 0.0f ? g : 0.0f;
    }
  });
}

}  // namespace fastkeras
