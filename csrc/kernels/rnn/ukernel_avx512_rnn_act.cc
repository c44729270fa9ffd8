// The recurrent cells' activation and LSTM forward/backward row loops (kernels/rnn/rnn_act.h)
// compiled with AVX-512 flags; rnn.cc calls this when the GEMM runs on that ISA.
#include <immintrin.h>

#include "kernels/rnn/rnn_act.h"

namespace fastkeras {

void rnn_apply_act_avx512(RnnActivation act, float* v, int64_t n) { apply_act_impl(act, v, n); }

void rnn_lstm_backward_row_avx512(const float* g, const float* ct, const float* cp, float* dc,
                                  float* dh, float* dg, int64_t U) {
  lstm_backward_row_impl(g, ct, cp, dc, dh, dg, U);
}

namespace {

// The maskz forms with every lane on: GCC 12's unmasked forms of these trip
// -Wmaybe-uninitialized inside its own header.
constexpr __mmask16 kAll = 0xFFFF;

// exp_approx (rnn_act.h) on 16 lanes, with the same clamp, reduction and polynomial; the power
// of two is applied by vscalefps instead of building its bits, one instruction for four.
inline __m512 exp16(__m512 x) {
  // vmaxps/vminps return their second operand for a NaN: x, so a NaN stays NaN (as in the
  // portable loops) and vscalefps keeps it so.
  x = _mm512_maskz_min_ps(kAll, _mm512_set1_ps(kExpMax),
                          _mm512_maskz_max_ps(kAll, _mm512_set1_ps(kExpMin), x));
  const __m512 n = _mm512_maskz_roundscale_ps(kAll, _mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kExpPoly[0]);
  for (int i = 1; i < kExpPolyTerms; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpPoly[i]));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_scalef_ps(kAll, p, n);
}

// 1 / d from the 14-bit estimate and one Newton step (relative error ~2^-27): a few cheap
// instructions where vdivps occupies the divider for several cycles per vector.
inline __m512 recip16(__m512 d) {
  const __m512 r = _mm512_maskz_rcp14_ps(kAll, d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}

inline __m512 sigmoid16(__m512 x) {
  return recip16(_mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// tanh_approx on 16 lanes: 1 - 2 / (1 + e^2x), and the odd series below |x| = 1/16.
inline __m512 tanh16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 big = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f),
                                      recip16(_mm512_add_ps(one, exp16(_mm512_add_ps(x, x)))), one);
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 q = _mm512_fmadd_ps(x2, _mm512_set1_ps(kTanhSeries[2]), _mm512_set1_ps(kTanhSeries[1]));
  q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(kTanhSeries[0]));
  q = _mm512_fmadd_ps(x2, q, one);
  const __mmask16 small =
      _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(kTanhSmall), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(small, big, _mm512_mul_ps(x, q));
}

}  // namespace

// lstm_forward_gates (rnn_act.h) 16 units at a time, the last vector under a lane mask.
void rnn_lstm_forward_row_avx512(float* g, float* c, float* cs, float* h, bool keep, int64_t U) {
  for (int64_t u = 0; u < U; u += 16) {
    const int64_t left = U - u;
    const __mmask16 m = left >= 16 ? kAll : static_cast<__mmask16>((1u << left) - 1u);
    float* gi = g + u;
    float* gf = g + U + u;
    float* gc = g + 2 * U + u;
    float* go = g + 3 * U + u;
    const __m512 ig = sigmoid16(_mm512_maskz_loadu_ps(m, gi));
    const __m512 fg = sigmoid16(_mm512_maskz_loadu_ps(m, gf));
    const __m512 cg = tanh16(_mm512_maskz_loadu_ps(m, gc));
    const __m512 og = sigmoid16(_mm512_maskz_loadu_ps(m, go));
    _mm512_mask_storeu_ps(gi, m, ig);
    _mm512_mask_storeu_ps(gf, m, fg);
    _mm512_mask_storeu_ps(gc, m, cg);
    _mm512_mask_storeu_ps(go, m, og);
    const __m512 cp = _mm512_maskz_loadu_ps(m, c + u);
    const __m512 cn = _mm512_fmadd_ps(fg, cp, _mm512_mul_ps(ig, cg));
    const __m512 ck = keep ? cn : cp;
    _mm512_mask_storeu_ps(c + u, m, ck);
    _mm512_mask_storeu_ps(cs + u, m, ck);
    _mm512_mask_storeu_ps(h + u, m, _mm512_mul_ps(og, tanh16(cn)));
  }
}

// The in-place backward row stays the portable loop compiled for AVX-512: written with
// intrinsics like the forward row it measured no faster (3.46 us a step for 32 rows either way).
void rnn_lstm_backward_row_in_place_avx512(float* g, const float* ct, const float* cp, float* dc,
                                           float* dh, int64_t U) {
  lstm_backward_row_in_place_impl(g, g + U, g + 2 * U, g + 3 * U, ct, cp, dc, dh, U);
}

}  // namespace fastkeras
