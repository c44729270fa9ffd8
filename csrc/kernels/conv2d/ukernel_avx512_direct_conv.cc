// AVX-512 micro-kernels of the direct small-channel convolution (direct_conv.h). Compiled with
// AVX-512 flags only in this file; called only when the GEMM dispatches to AVX-512.
//
// Forward: a block of P pixels x 32 filters lives in 2P zmm accumulators; each tap loads two
// weight vectors and broadcasts one input value per pixel. Weight gradient: a block of KB taps x
// 32 filters lives in 2KB accumulators while the run's pixels stream by, each pixel loading its
// (masked) output gradient once per tap block. Filter counts that are not a multiple of 16 use
// masked loads and stores.
#include <immintrin.h>

#include "kernels/conv2d/direct_conv.h"

namespace fastkeras {
namespace {

inline __mmask16 lane_mask(int64_t n) {
  if (n <= 0) return 0;
  if (n >= 16) return 0xFFFF;
  return static_cast<__mmask16>((1u << n) - 1u);
}

// P pixels x NV vectors of filters starting at f0. masks[v] selects the valid filters.
template <int P, int NV>
void forward_block(const DirectConvRun& run, const float* src, const float* w, const float* bias,
                   int64_t f, int64_t f0, const __mmask16* masks, bool relu, float* y) {
  __m512 acc[P][NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v) {
    const __m512 b =
        bias ? _mm512_maskz_loadu_ps(masks[v], bias + f0 + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) acc[p][v] = b;
  }
  const int64_t ps = run.pixel_stride;
  for (int64_t k = 0; k < run.taps; ++k) {
    __m512 wv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) wv[v] = _mm512_maskz_loadu_ps(masks[v], w + k * f + f0 + 16 * v);
    const float* s = src + run.tap_offset[k];
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const __m512 a = _mm512_set1_ps(s[p * ps]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[p][v] = _mm512_fmadd_ps(a, wv[v], acc[p][v]);
    }
  }
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      // vmaxps returns its second operand when either is NaN: relu keeps a NaN.
      const __m512 out = relu ? _mm512_maskz_max_ps(0xFFFF, zero, acc[p][v]) : acc[p][v];
      _mm512_mask_storeu_ps(y + p * f + f0 + 16 * v, masks[v], out);
    }
  }
}

template <int P>
void forward_pixels(const DirectConvRun& run, const float* src, const float* w, const float* bias,
                    int64_t f, bool relu, float* y) {
  for (int64_t f0 = 0; f0 < f; f0 += 32) {
    const __mmask16 masks[2] = {lane_mask(f - f0), lane_mask(f - f0 - 16)};
    if (f - f0 > 16) {
      forward_block<P, 2>(run, src, w, bias, f, f0, masks, relu, y);
    } else {
      forward_block<P, 1>(run, src, w, bias, f, f0, masks, relu, y);
    }
  }
}

// dw[k0 + kb, f0 + ...] += sum_p tap(p, k0 + kb) * g[p]; db too when with_db.
template <int KB, int NV>
void weight_grad_block(const DirectConvRun& run, int64_t k0, const float* y, const float* dy,
                       int64_t f, int64_t f0, const __mmask16* masks, bool with_db, float* dw,
                       float* db) {
  __m512 acc[KB][NV], dbacc[NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v) {
    dbacc[v] = _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int kb = 0; kb < KB; ++kb) acc[kb][v] = _mm512_setzero_ps();
  }
  const int64_t* offs = run.tap_offset + k0;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t p = 0; p < run.count; ++p) {
    __m512 g[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const int64_t o = p * f + f0 + 16 * v;
      g[v] = _mm512_maskz_loadu_ps(masks[v], dy + o);
      if (y) {
        const __m512 yv = _mm512_maskz_loadu_ps(masks[v], y + o);
        g[v] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(yv, zero, _CMP_GT_OQ), g[v]);
      }
      if (with_db) dbacc[v] = _mm512_add_ps(dbacc[v], g[v]);
    }
    const float* s = run.src + p * run.pixel_stride;
#pragma GCC unroll 12
    for (int kb = 0; kb < KB; ++kb) {
      const __m512 a = _mm512_set1_ps(s[offs[kb]]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[kb][v] = _mm512_fmadd_ps(a, g[v], acc[kb][v]);
    }
  }
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v) {
#pragma GCC unroll 12
    for (int kb = 0; kb < KB; ++kb) {
      float* d = dw + (k0 + kb) * f + f0 + 16 * v;
      _mm512_mask_storeu_ps(d, masks[v],
                            _mm512_add_ps(_mm512_maskz_loadu_ps(masks[v], d), acc[kb][v]));
    }
    if (with_db) {
      float* d = db + f0 + 16 * v;
      _mm512_mask_storeu_ps(d, masks[v],
                            _mm512_add_ps(_mm512_maskz_loadu_ps(masks[v], d), dbacc[v]));
    }
  }
}

template <int KB>
void weight_grad_taps(const DirectConvRun& run, int64_t k0, const float* y, const float* dy,
                      int64_t f, bool with_db, float* dw, float* db) {
  for (int64_t f0 = 0; f0 < f; f0 += 32) {
    const __mmask16 masks[2] = {lane_mask(f - f0), lane_mask(f - f0 - 16)};
    if (f - f0 > 16) {
      weight_grad_block<KB, 2>(run, k0, y, dy, f, f0, masks, with_db, dw, db);
    } else {
      weight_grad_block<KB, 1>(run, k0, y, dy, f, f0, masks, with_db, dw, db);
    }
  }
}

// Up to 12 taps per block: 24 accumulators, 2 bias-gradient sums, 2 gradients and a broadcast
// fit the 32 registers.
constexpr int64_t kMaxTapBlock = 12;

void weight_grad_tap_block(int64_t kb, const DirectConvRun& run, int64_t k0, const float* y,
                           const float* dy, int64_t f, bool with_db, float* dw, float* db) {
  switch (kb) {
    case 1:
      return weight_grad_taps<1>(run, k0, y, dy, f, with_db, dw, db);
    case 2:
      return weight_grad_taps<2>(run, k0, y, dy, f, with_db, dw, db);
    case 3:
      return weight_grad_taps<3>(run, k0, y, dy, f, with_db, dw, db);
    case 4:
      return weight_grad_taps<4>(run, k0, y, dy, f, with_db, dw, db);
    case 5:
      return weight_grad_taps<5>(run, k0, y, dy, f, with_db, dw, db);
    case 6:
      return weight_grad_taps<6>(run, k0, y, dy, f, with_db, dw, db);
    case 7:
      return weight_grad_taps<7>(run, k0, y, dy, f, with_db, dw, db);
    case 8:
      return weight_grad_taps<8>(run, k0, y, dy, f, with_db, dw, db);
    case 9:
      return weight_grad_taps<9>(run, k0, y, dy, f, with_db, dw, db);
    case 10:
      return weight_grad_taps<10>(run, k0, y, dy, f, with_db, dw, db);
    case 11:
      return weight_grad_taps<11>(run, k0, y, dy, f, with_db, dw, db);
    default:
      return weight_grad_taps<12>(run, k0, y, dy, f, with_db, dw, db);
  }
}

}  // namespace

void direct_conv_forward_avx512(const DirectConvRun& run, const float* w, const float* bias,
                                int64_t f, bool relu, float* y) {
  const float* src = run.src;
  int64_t p = 0;
  for (; p + 8 <= run.count; p += 8) {
    forward_pixels<8>(run, src + p * run.pixel_stride, w, bias, f, relu, y + p * f);
  }
  if (p + 4 <= run.count) {
    forward_pixels<4>(run, src + p * run.pixel_stride, w, bias, f, relu, y + p * f);
    p += 4;
  }
  for (; p < run.count; ++p) {
    forward_pixels<1>(run, src + p * run.pixel_stride, w, bias, f, relu, y + p * f);
  }
}

void direct_conv_weight_grad_avx512(const DirectConvRun& run, const float* y, const float* dy,
                                    int64_t f, float* dw, float* db) {
  if (run.count <= 0) return;
  // Even blocks (9 taps as one block of 9, 18 as two of 9) rather than 12 + a short tail.
  const int64_t blocks = (run.taps + kMaxTapBlock - 1) / kMaxTapBlock;
  const int64_t per_block = (run.taps + blocks - 1) / blocks;
  for (int64_t k0 = 0; k0 < run.taps; k0 += per_block) {
    const int64_t kb = run.taps - k0 < per_block ? run.taps - k0 : per_block;
    weight_grad_tap_block(kb, run, k0, y, dy, f, k0 == 0, dw, db);
  }
}

}  // namespace fastkeras
