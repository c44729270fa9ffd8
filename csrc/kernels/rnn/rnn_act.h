// The recurrent cells' activations, shared by the portable build of rnn.cc and the per-ISA
// files (ukernel_avx2_rnn_act.cc, ukernel_avx512_rnn_act.cc), which compile the same loops
// with wider vectors. Everything here has internal linkage, so each file keeps its own copy
// compiled with its own flags.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/rnn/rnn.h"

namespace fastkeras {
namespace {

// The constants of the activations below, shared with their AVX-512 forms
// (ukernel_avx512_rnn_act.cc), which must round the same way.
constexpr float kExpMin = -87.0f, kExpMax = 88.0f;  // exp's clamp
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = 2.12194440e-4f;  // ln 2 = hi - lo, split
// e^r - 1 - r = r^2 * p(r), p's coefficients from the highest power down.
constexpr int kExpPolyTerms = 6;
constexpr float kExpPoly[kExpPolyTerms] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                           4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
// tanh x = x (1 + s0 x^2 + s1 x^4 + s2 x^6) below |x| = kTanhSmall.
constexpr float kTanhSeries[3] = {-0.333333333f, 0.133333333f, -0.053968254f};
constexpr float kTanhSmall = 0.0625f;

// exp on a clamped range with a Cephes-style polynomial: branch-free, so the loops below
// vectorise, and within a few ulp of std::exp. The clamp turns a NaN into -87 (so no NaN is
// ever converted to an integer) and the NaN is put back at the end, so a NaN pre-activation
// gives NaN gates and states, as in Keras.
inline float exp_approx(float in) {
  const float x = std::min(kExpMax, std::max(kExpMin, in));
  const float n = std::floor(x * kLog2e + 0.5f);
  float r = x - n * kLn2Hi;
  r = r + n * kLn2Lo;
  float p = kExpPoly[0];
  for (int i = 1; i < kExpPolyTerms; ++i) p = p * r + kExpPoly[i];
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return in == in ? p * scale : in;
}

inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
inline float tanh_approx(float x) {
  // Small |x| directly from the odd series (1 - 2/(1+e^2x) loses digits there).
  const float big = 1.0f - 2.0f / (1.0f + exp_approx(2.0f * x));
  const float x2 = x * x;
  const float small =
      x * (1.0f + x2 * (kTanhSeries[0] + x2 * (kTanhSeries[1] + x2 * kTanhSeries[2])));
  return std::fabs(x) < kTanhSmall ? small : big;
}

// act applied in place to n values; one loop per activation so each vectorises.
inline void apply_act_impl(RnnActivation act, float* v, int64_t n) {
  switch (act) {
    case RnnActivation::kTanh:
      for (int64_t i = 0; i < n; ++i) v[i] = tanh_approx(v[i]);
      break;
    case RnnActivation::kSigmoid:
      for (int64_t i = 0; i < n; ++i) v[i] = sigmoid_approx(v[i]);
      break;
    case RnnActivation::kRelu:
      for (int64_t i = 0; i < n; ++i) v[i] = std::max(v[i], 0.0f);
      break;
    case RnnActivation::kLinear:
      break;
    case RnnActivation::kHardSigmoid:
      for (int64_t i = 0; i < n; ++i) {  // clipped so that a NaN stays NaN
        const float t = v[i] / 6.0f + 0.5f;
        v[i] = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
      }
      break;
  }
}

// One unit of an LSTM step's backward for Keras's default activations (tanh, sigmoid), from
// the activated gates (ig, fg, cg, og), the cell state ct (its tanh is recomputed here), the
// previous cell state cp and the gradients dc/dh reaching this step: the four gate gradients
// and the dc carried to the previous step (the caller zeroes dh).
struct LstmUnitGrads {
  float di, df, dcg, dog, dc_prev;
};

inline LstmUnitGrads lstm_backward_unit(float ig, float fg, float cg, float og, float ct, float cp,
                                        float dc, float dh) {
  const float tc = tanh_approx(ct);
  const float dct = dc + dh * og * (1.0f - tc * tc);
  return {dct * cg * (ig * (1.0f - ig)), dct * cp * (fg * (1.0f - fg)), dct * ig * (1.0f - cg * cg),
          dh * tc * (og * (1.0f - og)), dct * fg};
}

// One row of an LSTM step's backward: the gates g (i, f, c, o) in, the gate gradients dg out.
// Branch-free so it vectorises; the arrays never overlap, which __restrict tells the compiler
// (without it the loop stays scalar).
inline void lstm_backward_row_impl(const float* __restrict g, const float* __restrict ct,
                                   const float* __restrict cp, float* __restrict dc,
                                   float* __restrict dh, float* __restrict dg, int64_t U) {
  for (int64_t u = 0; u < U; ++u) {
    const LstmUnitGrads d =
        lstm_backward_unit(g[u], g[U + u], g[2 * U + u], g[3 * U + u], ct[u], cp[u], dc[u], dh[u]);
    dg[u] = d.di;
    dg[U + u] = d.df;
    dg[2 * U + u] = d.dcg;
    dg[3 * U + u] = d.dog;
    dc[u] = d.dc_prev;
    dh[u] = 0.0f;
  }
}

// The same row with the gradients written over the gates (dg == g). Each gate block goes in as
// its own pointer, read and then overwritten at the same index, so no array is reached through
// two pointers and __restrict still holds (a restrict-qualified g and dg on one array would
// let the compiler reload a gate after storing its gradient).
inline void lstm_backward_row_in_place_impl(float* __restrict gi, float* __restrict gf,
                                            float* __restrict gc, float* __restrict go,
                                            const float* __restrict ct, const float* __restrict cp,
                                            float* __restrict dc, float* __restrict dh, int64_t U) {
  for (int64_t u = 0; u < U; ++u) {
    const LstmUnitGrads d =
        lstm_backward_unit(gi[u], gf[u], gc[u], go[u], ct[u], cp[u], dc[u], dh[u]);
    gi[u] = d.di;
    gf[u] = d.df;
    gc[u] = d.dcg;
    go[u] = d.dog;
    dc[u] = d.dc_prev;
    dh[u] = 0.0f;
  }
}

// One row of an LSTM step's forward for Keras's default activations, after the gate
// pre-activations g (i, f, c, o) are complete: activates the gates in place, c_new = f * c +
// i * tanh-candidate, and h = o * tanh(c_new). c is updated only when `keep` (a masked step
// carries the state over); cs gets the carry kept for the backward; h gets the new output
// (whether kept or not: the caller decides). Branch-free so it vectorises.
template <bool kKeep>
inline void lstm_forward_gates(float* __restrict gi, float* __restrict gf, float* __restrict gc,
                               float* __restrict go, float* __restrict c, float* __restrict cs,
                               float* __restrict h, int64_t U) {
  for (int64_t u = 0; u < U; ++u) {
    const float ig = sigmoid_approx(gi[u]), fg = sigmoid_approx(gf[u]);
    const float cg = tanh_approx(gc[u]), og = sigmoid_approx(go[u]);
    gi[u] = ig;
    gf[u] = fg;
    gc[u] = cg;
    go[u] = og;
    const float cn = fg * c[u] + ig * cg;
    const float ck = kKeep ? cn : c[u];
    c[u] = ck;
    cs[u] = ck;
    h[u] = og * tanh_approx(cn);
  }
}

// (The gate blocks go in as separate non-overlapping pointers: through one pointer the
// compiler cannot tell g[u] from g[U + u], and a run-time `keep` inside the loop, too, leaves
// it scalar.)
inline void lstm_forward_row_impl(float* g, float* c, float* cs, float* h, bool keep, int64_t U) {
  if (keep) {
    lstm_forward_gates<true>(g, g + U, g + 2 * U, g + 3 * U, c, cs, h, U);
  } else {
    lstm_forward_gates<false>(g, g + U, g + 2 * U, g + 3 * U, c, cs, h, U);
  }
}

}  // namespace

// The same loops compiled for AVX2+FMA and AVX-512 (x86-64 builds only).
void rnn_apply_act_avx2(RnnActivation act, float* v, int64_t n);
void rnn_apply_act_avx512(RnnActivation act, float* v, int64_t n);
void rnn_lstm_forward_row_avx2(float* g, float* c, float* cs, float* h, bool keep, int64_t U);
void rnn_lstm_forward_row_avx512(float* g, float* c, float* cs, float* h, bool keep, int64_t U);
void rnn_lstm_backward_row_avx2(const float* g, const float* ct, const float* cp, float* dc,
                                float* dh, float* dg, int64_t U);
void rnn_lstm_backward_row_avx512(const float* g, const float* ct, const float* cp, float* dc,
                                  float* dh, float* dg, int64_t U);
void rnn_lstm_backward_row_in_place_avx2(float* g, const float* ct, const float* cp, float* dc,
                                         float* dh, int64_t U);
void rnn_lstm_backward_row_in_place_avx512(float* g, const float* ct, const float* cp, float* dc,
                                           float* dh, int64_t U);

}  // namespace fastkeras
