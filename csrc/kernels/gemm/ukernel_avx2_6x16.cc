// AVX2+FMA micro-kernel, 6x16 tile: 12 ymm accumulators (6 rows x 2 vectors of 8), two ymm for
// the B row and one broadcast of A, 15 of the 16 ymm registers. Compiled with -mavx2 -mfma only
// in this file; called only when the CPU reports AVX2 and FMA.
//
// Edge tiles run narrower variants (fewer rows, one vector of columns) so a thin edge does not
// pay for the full tile's multiplies.
#include <immintrin.h>

#include <algorithm>

#include "kernels/gemm/ukernel.h"

namespace fastkeras {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

// Lane mask with the first `n` (clamped to 0..8) of 8 lanes on.
inline __m256i lane_mask(int n) {
  n = n < 0 ? 0 : (n > 8 ? 8 : n);
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

// alpha * acc + beta * c + bias, then relu. vmaxps returns its second operand when either is
// NaN, so max(0, v) keeps a NaN in v.
inline __m256 finish(__m256 acc, __m256 c, __m256 alpha, __m256 beta, bool use_beta, __m256 bias,
                     bool relu) {
  __m256 v = _mm256_mul_ps(acc, alpha);
  if (use_beta) v = _mm256_fmadd_ps(beta, c, v);
  v = _mm256_add_ps(v, bias);
  if (relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
  return v;
}

// ROWS x (8 * NV) of the tile. With kRows, A is read where it lies, row-major (see
// ukernel.h); rows past m repeat row m - 1, whose results are never stored.
template <int ROWS, int NV, bool kRows = false>
void tile(int64_t kc, const float* ap, int64_t a_rs, int64_t a_stride, const float* bp,
          int64_t b_stride, float* c, int64_t ldc, int m, int n, const UkernelParams& p) {
  int64_t row_off[ROWS];
#pragma GCC unroll 6
  for (int i = 0; i < ROWS; ++i) row_off[i] = kRows ? std::min(i, m - 1) * a_rs : i;
  __m256 acc[ROWS][NV];
#pragma GCC unroll 6
  for (int i = 0; i < ROWS; ++i) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  }

#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    __m256 b[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) b[v] = _mm256_loadu_ps(bp + 8 * v);
#pragma GCC unroll 6
    for (int i = 0; i < ROWS; ++i) {
      const __m256 a = _mm256_broadcast_ss(ap + row_off[i]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(a, b[v], acc[i][v]);
    }
    ap += a_stride;
    bp += b_stride;
  }

  const __m256 alpha = _mm256_set1_ps(p.alpha);
  const __m256 beta = _mm256_set1_ps(p.beta);
  const bool use_beta = p.beta != 0.0f;
  const __m256 zero = _mm256_setzero_ps();
  if (n == 8 * NV) {
    __m256 bias[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bias[v] = p.bias ? _mm256_loadu_ps(p.bias + 8 * v) : zero;
#pragma GCC unroll 6
    for (int i = 0; i < ROWS; ++i) {
      if (i >= m) break;
      float* row = c + i * ldc;
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        const __m256 cv = use_beta ? _mm256_loadu_ps(row + 8 * v) : zero;
        _mm256_storeu_ps(row + 8 * v,
                         finish(acc[i][v], cv, alpha, beta, use_beta, bias[v], p.relu));
      }
    }
    return;
  }
  // Edge tile: only the first n columns exist; masked loads never touch the rest.
  __m256i mask[NV];
  __m256 bias[NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v) {
    mask[v] = lane_mask(n - 8 * v);
    bias[v] = p.bias ? _mm256_maskload_ps(p.bias + 8 * v, mask[v]) : zero;
  }
  for (int i = 0; i < m && i < ROWS; ++i) {
    float* row = c + i * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const __m256 cv = use_beta ? _mm256_maskload_ps(row + 8 * v, mask[v]) : zero;
      _mm256_maskstore_ps(row + 8 * v, mask[v],
                          finish(acc[i][v], cv, alpha, beta, use_beta, bias[v], p.relu));
    }
  }
}

template <bool kRows>
void dispatch(int64_t kc, const float* ap, int64_t a_rs, int64_t a_stride, const float* bp,
              int64_t b_stride, float* c, int64_t ldc, int m, int n, const UkernelParams& p) {
  if (n > 8) {
    if (m > 4) return tile<6, 2, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
    if (m > 2) return tile<4, 2, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
    return tile<2, 2, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
  }
  if (m > 4) return tile<6, 1, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
  if (m > 2) return tile<4, 1, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
  return tile<2, 1, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
}

void ukernel_avx2_6x16(int64_t kc, const float* ap, int64_t a_rs, int64_t a_stride, const float* bp,
                       int64_t b_stride, float* c, int64_t ldc, int m, int n,
                       const UkernelParams& p) {
  if (a_rs == 1) return dispatch<false>(kc, ap, 1, a_stride, bp, b_stride, c, ldc, m, n, p);
  dispatch<true>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
}

}  // namespace

const GemmKernelInfo& gemm_kernel_avx2_6x16() {
  // kc: the 6 x kc A micro-panel (6 KB) stays in L1 while B micro-panels stream from L2;
  // nc: the kc x nc B block (256 x 768 x 4 = 768 KB) fits a 1 MB L2.
  static const GemmKernelInfo info{"avx2_6x16", kMr, kNr, 256, 1536, 768, ukernel_avx2_6x16};
  return info;
}

}  // namespace fastkeras
