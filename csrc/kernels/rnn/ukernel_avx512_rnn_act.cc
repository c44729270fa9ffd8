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
  x = _mm512_maskz_min_ps(kAll, _mm512_set1_ps(88.0f),
                          _mm512_maskz_max_ps(kAll, _mm512_set1_ps(-87.0f), x));
  const __m512 n =
      _mm512_maskz_roundscale_ps(kAll, _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
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
  __m512 q = _mm512_fnmadd_ps(x2, _mm512_set1_ps(0.053968254f), _mm512_set1_ps(0.133333333f));
  q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-0.333333333f));
  q = _mm512_fmadd_ps(x2, q, one);
  const __mmask16 small = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(0.0625f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(small, big, _mm512_mul_ps(x, q));
}

}  // namespace

// lstm_forward_gates (rnn_act.h) 16 units at a time, the last vector under a lane mask.
void rnn_lstm_forward_row_avx512(float* g, float* c, float* cs, float* h, bool keep, int64_t U) {
  for (int64_t u = 0; u < U; u += 16) {
    const int64_t left = U - u;
    const __mmask16 m = left >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << left) - 1u);
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

void rnn_lstm_backward_row_in_place_avx512(float* g, const float* ct, const float* cp, float* dc,
                                           float* dh, int64_t U) {
  // lstm_backward_unit (rnn_act.h) 16 units at a time, the last vector under a lane mask.
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t u = 0; u < U; u += 16) {
    const int64_t left = U - u;
    const __mmask16 m = left >= 16 ? kAll : static_cast<__mmask16>((1u << left) - 1u);
    float* gi = g + u;
    float* gf = g + U + u;
    float* gc = g + 2 * U + u;
    float* go = g + 3 * U + u;
    const __m512 ig = _mm512_maskz_loadu_ps(m, gi), fg = _mm512_maskz_loadu_ps(m, gf);
    const __m512 cg = _mm512_maskz_loadu_ps(m, gc), og = _mm512_maskz_loadu_ps(m, go);
    const __m512 dhv = _mm512_maskz_loadu_ps(m, dh + u);
    const __m512 tc = tanh16(_mm512_maskz_loadu_ps(m, ct + u));
    const __m512 dct = _mm512_fmadd_ps(_mm512_mul_ps(dhv, og), _mm512_fnmadd_ps(tc, tc, one),
                                       _mm512_maskz_loadu_ps(m, dc + u));
    _mm512_mask_storeu_ps(
        gi, m, _mm512_mul_ps(_mm512_mul_ps(dct, cg), _mm512_mul_ps(ig, _mm512_sub_ps(one, ig))));
    _mm512_mask_storeu_ps(gf, m,
                          _mm512_mul_ps(_mm512_mul_ps(dct, _mm512_maskz_loadu_ps(m, cp + u)),
                                        _mm512_mul_ps(fg, _mm512_sub_ps(one, fg))));
    _mm512_mask_storeu_ps(gc, m,
                          _mm512_mul_ps(_mm512_mul_ps(dct, ig), _mm512_fnmadd_ps(cg, cg, one)));
    _mm512_mask_storeu_ps(
        go, m, _mm512_mul_ps(_mm512_mul_ps(dhv, tc), _mm512_mul_ps(og, _mm512_sub_ps(one, og))));
    _mm512_mask_storeu_ps(dc + u, m, _mm512_mul_ps(dct, fg));
    _mm512_mask_storeu_ps(dh + u, m, _mm512_setzero_ps());
  }
}
}  // namespace fastkeras
