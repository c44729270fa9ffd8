// AVX-512 tile transforms of the Winograd F(2x2, 3x3) forward (winograd.h): 16 channels or
// filters per vector, the matrices B^T and A^T applied as additions on whole vectors. Compiled
// with AVX-512 flags only in this file; called only when the GEMM dispatches to AVX-512.
#include <immintrin.h>

#include "kernels/conv2d/winograd.h"

namespace fastkeras {
namespace {

inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

}  // namespace

void winograd_filter_avx512(const float* w, int64_t cf, float* u) {
  const __m512 half = _mm512_set1_ps(0.5f);
  for (int64_t i = 0; i < cf; i += 16) {
    const __mmask16 k = lanes(cf - i);
    __m512 t[4][3];
    for (int b = 0; b < 3; ++b) {
      const __m512 g0 = _mm512_maskz_loadu_ps(k, w + b * cf + i);
      const __m512 g1 = _mm512_maskz_loadu_ps(k, w + (3 + b) * cf + i);
      const __m512 g2 = _mm512_maskz_loadu_ps(k, w + (6 + b) * cf + i);
      t[0][b] = g0;
      t[1][b] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g0, g1), g2));
      t[2][b] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g0, g1), g2));
      t[3][b] = g2;
    }
    for (int r = 0; r < 4; ++r) {
      float* out = u + r * 4 * cf + i;
      const __m512 sum = _mm512_add_ps(_mm512_add_ps(t[r][0], t[r][1]), t[r][2]);
      const __m512 alt = _mm512_add_ps(_mm512_sub_ps(t[r][0], t[r][1]), t[r][2]);
      _mm512_mask_storeu_ps(out, k, t[r][0]);
      _mm512_mask_storeu_ps(out + cf, k, _mm512_mul_ps(half, sum));
      _mm512_mask_storeu_ps(out + 2 * cf, k, _mm512_mul_ps(half, alt));
      _mm512_mask_storeu_ps(out + 3 * cf, k, t[r][2]);
    }
  }
}

void winograd_input_tile_avx512(const float* const* d, int64_t c, float* v, int64_t e_stride) {
  for (int64_t ch = 0; ch < c; ch += 16) {
    const __mmask16 k = lanes(c - ch);
    __m512 t[4][4];
    for (int b = 0; b < 4; ++b) {
      const __m512 d0 = _mm512_maskz_loadu_ps(k, d[b] + ch);
      const __m512 d1 = _mm512_maskz_loadu_ps(k, d[4 + b] + ch);
      const __m512 d2 = _mm512_maskz_loadu_ps(k, d[8 + b] + ch);
      const __m512 d3 = _mm512_maskz_loadu_ps(k, d[12 + b] + ch);
      t[0][b] = _mm512_sub_ps(d0, d2);
      t[1][b] = _mm512_add_ps(d1, d2);
      t[2][b] = _mm512_sub_ps(d2, d1);
      t[3][b] = _mm512_sub_ps(d1, d3);
    }
    for (int r = 0; r < 4; ++r) {
      float* out = v + r * 4 * e_stride + ch;
      _mm512_mask_storeu_ps(out, k, _mm512_sub_ps(t[r][0], t[r][2]));
      _mm512_mask_storeu_ps(out + e_stride, k, _mm512_add_ps(t[r][1], t[r][2]));
      _mm512_mask_storeu_ps(out + 2 * e_stride, k, _mm512_sub_ps(t[r][2], t[r][1]));
      _mm512_mask_storeu_ps(out + 3 * e_stride, k, _mm512_sub_ps(t[r][1], t[r][3]));
    }
  }
}

void winograd_output_tile_avx512(const float* m, int64_t e_stride, int64_t f, const float* bias,
                                 bool relu, float* const* y) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t j = 0; j < f; j += 16) {
    const __mmask16 k = lanes(f - j);
    __m512 mm[16];
    for (int e = 0; e < 16; ++e) mm[e] = _mm512_maskz_loadu_ps(k, m + e * e_stride + j);
    __m512 t[2][4];
    for (int b = 0; b < 4; ++b) {
      t[0][b] = _mm512_add_ps(_mm512_add_ps(mm[b], mm[4 + b]), mm[8 + b]);
      t[1][b] = _mm512_sub_ps(_mm512_sub_ps(mm[4 + b], mm[8 + b]), mm[12 + b]);
    }
    const __m512 add = bias ? _mm512_maskz_loadu_ps(k, bias + j) : zero;
    for (int r = 0; r < 2; ++r) {
      __m512 out[2] = {_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(t[r][0], t[r][1]), t[r][2]), add),
                       _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(t[r][1], t[r][2]), t[r][3]), add)};
      for (int q = 0; q < 2; ++q) {
        float* dst = y[r * 2 + q];
        if (!dst) continue;
        // vmaxps returns its second operand when either is NaN: relu keeps a NaN.
        const __m512 v = relu ? _mm512_max_ps(zero, out[q]) : out[q];
        _mm512_mask_storeu_ps(dst + j, k, v);
      }
    }
  }
}

}  // namespace fastkeras
