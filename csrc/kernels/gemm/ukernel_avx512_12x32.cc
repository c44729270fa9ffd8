// AVX-512 micro-kernel, 12x32 tile: 24 zmm accumulators (12 rows x 2 vectors of 16), two zmm for
// the B row and one broadcast of A, 27 of the 32 zmm registers. Compiled with AVX-512 flags only
// in this file; called only when the CPU reports AVX-512F/DQ.
//
// Edge tiles run narrower variants (4 or 8 rows, one vector of columns) so a thin edge does not
// pay for the full tile's multiplies.
#include <immintrin.h>

#include <algorithm>

#include "kernels/gemm/ukernel.h"

namespace fastkeras {
namespace {

constexpr int kMr = 12;
constexpr int kNr = 32;

inline __mmask16 lane_mask(int n) {
  if (n <= 0) return 0;
  if (n >= 16) return 0xFFFF;
  return static_cast<__mmask16>((1u << n) - 1u);
}

// alpha * acc + beta * c + bias, then relu. vmaxps returns its second operand when either is
// NaN, so max(0, v) keeps a NaN in v. (maskz form: GCC 12's plain _mm512_max_ps trips
// -Wmaybe-uninitialized inside its own header.)
inline __m512 finish(__m512 acc, __m512 c, __m512 alpha, __m512 beta, bool use_beta, __m512 bias,
                     bool relu) {
  __m512 v = _mm512_mul_ps(acc, alpha);
  if (use_beta) v = _mm512_fmadd_ps(beta, c, v);
  v = _mm512_add_ps(v, bias);
  if (relu) v = _mm512_maskz_max_ps(0xFFFF, _mm512_setzero_ps(), v);
  return v;
}

// ROWS x (16 * NV) of the tile. With kRows, A is read where it lies, row-major: row i of the
// panel starts a_rs floats after row i - 1 and its k-th value follows the (k-1)-th. Rows past m
// repeat row m - 1 (their results are never stored), so the panel is never read past its end.
template <int ROWS, int NV, bool kRows = false>
void tile(int64_t kc, const float* ap, int64_t a_rs, int64_t a_stride, const float* bp,
          int64_t b_stride, float* c, int64_t ldc, int m, int n, const UkernelParams& p) {
  int64_t row_off[ROWS];
#pragma GCC unroll 12
  for (int i = 0; i < ROWS; ++i) row_off[i] = kRows ? std::min(i, m - 1) * a_rs : i;
  __m512 acc[ROWS][NV];
#pragma GCC unroll 12
  for (int i = 0; i < ROWS; ++i) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }

#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_ps(bp + 16 * v);
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; ++i) {
      const __m512 a = _mm512_set1_ps(ap[row_off[i]]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
    }
    ap += a_stride;
    bp += b_stride;
  }

  // Masked loads and stores cover edge tiles and never touch memory past column n.
  const __m512 alpha = _mm512_set1_ps(p.alpha);
  const __m512 beta = _mm512_set1_ps(p.beta);
  const bool use_beta = p.beta != 0.0f;
  const __m512 zero = _mm512_setzero_ps();
  __mmask16 mask[NV];
  __m512 bias[NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v) {
    mask[v] = lane_mask(n - 16 * v);
    bias[v] = p.bias ? _mm512_maskz_loadu_ps(mask[v], p.bias + 16 * v) : zero;
  }
#pragma GCC unroll 12
  for (int i = 0; i < ROWS; ++i) {
    if (i >= m) break;
    float* row = c + i * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const __m512 cv = use_beta ? _mm512_maskz_loadu_ps(mask[v], row + 16 * v) : zero;
      _mm512_mask_storeu_ps(row + 16 * v, mask[v],
                            finish(acc[i][v], cv, alpha, beta, use_beta, bias[v], p.relu));
    }
  }
}

template <bool kRows>
void dispatch(int64_t kc, const float* ap, int64_t a_rs, int64_t a_stride, const float* bp,
              int64_t b_stride, float* c, int64_t ldc, int m, int n, const UkernelParams& p) {
  if (n > 16) {
    if (m > 8) return tile<12, 2, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
    if (m > 4) return tile<8, 2, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
    return tile<4, 2, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
  }
  if (m > 8) return tile<12, 1, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
  if (m > 4) return tile<8, 1, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
  return tile<4, 1, kRows>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
}

void ukernel_avx512_12x32(int64_t kc, const float* ap, int64_t a_rs, int64_t a_stride,
                          const float* bp, int64_t b_stride, float* c, int64_t ldc, int m, int n,
                          const UkernelParams& p) {
  if (a_rs == 1) return dispatch<false>(kc, ap, 1, a_stride, bp, b_stride, c, ldc, m, n, p);
  dispatch<true>(kc, ap, a_rs, a_stride, bp, b_stride, c, ldc, m, n, p);
}

}  // namespace

const GemmKernelInfo& gemm_kernel_avx512_12x32() {
  // kc: the 12 x kc A micro-panel (12 KB at kc=256) stays in L1 while B micro-panels stream
  // from L2; nc: the kc x nc B block (256 x 768 x 4 = 768 KB) fits a 1 MB L2; mc: the packed
  // A block (1536 x 256 x 4 = 1.5 MB) sits in L3.
  static const GemmKernelInfo info{"avx512_12x32", kMr, kNr, 256, 1536, 768, ukernel_avx512_12x32};
  return info;
}

}  // namespace fastkeras
