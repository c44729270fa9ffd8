// AVX-512 window loops of the fused Conv2D(relu) + MaxPooling2D(2) (conv_pool.h): 16 filters per
// vector, masked tails. Compiled with AVX-512 flags only in this file.
#include <immintrin.h>

#include "kernels/conv2d/conv_pool.h"

namespace fastkeras {
namespace {

inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

}  // namespace

void pool_window_avx512(const float* const* cells, int64_t f, float* y, int32_t* which) {
  for (int64_t k = 0; k < f; k += 16) {
    const __mmask16 m = lanes(f - k);
    __m512 best = _mm512_maskz_loadu_ps(m, cells[0] + k);
    __m512i at = _mm512_setzero_si512();
    for (int a = 1; a < 4; ++a) {
      const __m512 v = _mm512_maskz_loadu_ps(m, cells[a] + k);
      // Strictly larger, or the first NaN: a NaN in any cell is the max, and nothing (no
      // later NaN either) displaces it.
      const __mmask16 larger =
          _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
          (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
      best = _mm512_mask_mov_ps(best, larger, v);
      at = _mm512_mask_mov_epi32(at, larger, _mm512_set1_epi32(a));
    }
    _mm512_mask_storeu_ps(y + k, m, best);
    _mm512_mask_storeu_epi32(which + k, m, at);
  }
}

void unpool_window_avx512(const float* y, const float* dy, const int32_t* which, int64_t f,
                          float* const* cells) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t k = 0; k < f; k += 16) {
    const __mmask16 m = lanes(f - k);
    const __mmask16 open = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, y + k), zero, _CMP_GT_OQ);
    const __m512 g = _mm512_maskz_loadu_ps(open, dy + k);
    const __m512i w = _mm512_maskz_loadu_epi32(m, which + k);
    for (int a = 0; a < 4; ++a) {
      const __mmask16 here = _mm512_cmpeq_epi32_mask(w, _mm512_set1_epi32(a));
      _mm512_mask_storeu_ps(cells[a] + k, m, _mm512_maskz_mov_ps(here, g));
    }
  }
}

}  // namespace fastkeras
