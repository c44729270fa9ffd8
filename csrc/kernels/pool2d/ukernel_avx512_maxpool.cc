// AVX-512 max pooling over one NHWC image: 16 channels per vector (masked tails), the running
// max and its index in registers while the window's cells stream by. Compiled with AVX-512
// flags only in this file; called only when the GEMM dispatches to AVX-512.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/pool2d/pool2d.h"
#include "kernels/pool2d/pool_windows.h"

namespace fastkeras {
namespace {

inline __mmask16 lane_mask(int64_t n) {
  if (n <= 0) return 0;
  if (n >= 16) return 0xFFFF;
  return static_cast<__mmask16>((1u << n) - 1u);
}

// Built inside the kernels, not as a global: a static initializer with AVX-512 instructions
// would run at import time, also on CPUs without AVX-512.
inline __m512i lane_indices() {
  return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

}  // namespace

void maxpool2d_image_forward_avx512(const Pool2DShape& s, const float* xi, float* yi,
                                    int32_t* argmax_i) {
  const int64_t C = s.c;
  const __m512i kLanes = lane_indices();
  for (int64_t oy = 0; oy < s.oh; ++oy) {
    int64_t y0, y1;
    window(oy, s.stride_h, s.pad_top, s.ph, s.h, &y0, &y1);
    for (int64_t ox = 0; ox < s.ow; ++ox) {
      int64_t x0, x1;
      window(ox, s.stride_w, s.pad_left, s.pw, s.w, &x0, &x1);
      const int64_t o = (oy * s.ow + ox) * C;
      if (y0 >= y1 || x0 >= x1) {  // a window entirely in padding
        std::fill(yi + o, yi + o + C, -std::numeric_limits<float>::infinity());
        if (argmax_i) std::fill(argmax_i + o, argmax_i + o + C, -1);
        continue;
      }
      const int64_t first = (y0 * s.w + x0) * C;
      for (int64_t c0 = 0; c0 < C; c0 += 16) {
        const __mmask16 m = lane_mask(C - c0);
        __m512 best = _mm512_maskz_loadu_ps(m, xi + first + c0);
        __m512i win = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(first + c0)), kLanes);
        // Later cells replace the max only when strictly larger (ties keep the first cell) or
        // the window's first NaN: once a NaN is the max nothing replaces it, so a NaN anywhere
        // wins.
        for (int64_t iy = y0; iy < y1; ++iy) {
          for (int64_t ix = iy == y0 ? x0 + 1 : x0; ix < x1; ++ix) {
            const int64_t base = (iy * s.w + ix) * C + c0;
            const __m512 v = _mm512_maskz_loadu_ps(m, xi + base);
            const __mmask16 gt = _mm512_mask_cmp_ps_mask(m, v, best, _CMP_GT_OQ) |
                                 (_mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q) &
                                  _mm512_mask_cmp_ps_mask(m, best, best, _CMP_ORD_Q));
            best = _mm512_mask_mov_ps(best, gt, v);
            win = _mm512_mask_mov_epi32(
                win, gt, _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(base)), kLanes));
          }
        }
        _mm512_mask_storeu_ps(yi + o + c0, m, best);
        if (argmax_i) _mm512_mask_storeu_epi32(argmax_i + o + c0, m, win);
      }
    }
  }
}

void maxpool2d_image_backward_disjoint_avx512(const Pool2DShape& s, const float* dyi,
                                              const int32_t* argmax_i, float* dxi) {
  const int64_t C = s.c;
  const __m512i kLanes = lane_indices();
  for (int64_t oy = 0; oy < s.oh; ++oy) {
    int64_t y0, y1;
    window(oy, s.stride_h, s.pad_top, s.ph, s.h, &y0, &y1);
    for (int64_t ox = 0; ox < s.ow; ++ox) {
      int64_t x0, x1;
      window(ox, s.stride_w, s.pad_left, s.pw, s.w, &x0, &x1);
      const int64_t o = (oy * s.ow + ox) * C;
      for (int64_t c0 = 0; c0 < C; c0 += 16) {
        const __mmask16 m = lane_mask(C - c0);
        const __m512 g = _mm512_maskz_loadu_ps(m, dyi + o + c0);
        const __m512i idx = _mm512_maskz_loadu_epi32(m, argmax_i + o + c0);
        for (int64_t iy = y0; iy < y1; ++iy) {
          for (int64_t ix = x0; ix < x1; ++ix) {
            const int64_t base = (iy * s.w + ix) * C + c0;
            const __m512i cell =
                _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(base)), kLanes);
            const __mmask16 hit = _mm512_cmpeq_epi32_mask(idx, cell);
            _mm512_mask_storeu_ps(dxi + base, m, _mm512_maskz_mov_ps(hit, g));
          }
        }
      }
    }
  }
}

}  // namespace fastkeras
