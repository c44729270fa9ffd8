#include "kernels/rnn/rnn.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/elementwise/bias.h"
#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"
#include "kernels/rnn/rnn_act.h"

namespace fastkeras {

int rnn_gate_count(RnnCell cell) {
  switch (cell) {
    case RnnCell::kSimple:
      return 1;
    case RnnCell::kLstm:
      return 4;
    case RnnCell::kGru:
    case RnnCell::kGruResetAfter:
      return 3;
  }
  return 1;
}

namespace {

// Asks for n floats from p to be brought towards the core (into L2) ahead of use: the next
// step's block of the time-major workspace, which the current step's work then hides. The
// blocks were written a whole sequence earlier and have usually left the core's caches.
void prefetch_block(const float* p, int64_t n) {
  constexpr int64_t kLine = 64 / sizeof(float);
  for (int64_t i = 0; i < n; i += kLine) __builtin_prefetch(p + i, 0, 2);
}

// act applied in place to n values, on the widest vectors the GEMM's ISA allows.
void apply_act(RnnActivation act, float* v, int64_t n) {
#if defined(FASTKERAS_X86)
  switch (gemm_isa()) {
    case Isa::kAvx512:
      rnn_apply_act_avx512(act, v, n);
      return;
    case Isa::kAvx2:
      rnn_apply_act_avx2(act, v, n);
      return;
    default:
      break;
  }
#endif
  apply_act_impl(act, v, n);
}

// dg may be g itself: the gradients then overwrite the gates (see RnnArgs::dgates).
void lstm_backward_row(const float* g, const float* ct, const float* cp, float* dc, float* dh,
                       float* dg, int64_t U) {
  const bool in_place = dg == g;
#if defined(FASTKERAS_X86)
  switch (gemm_isa()) {
    case Isa::kAvx512:
      if (in_place) {
        rnn_lstm_backward_row_in_place_avx512(dg, ct, cp, dc, dh, U);
      } else {
        rnn_lstm_backward_row_avx512(g, ct, cp, dc, dh, dg, U);
      }
      return;
    case Isa::kAvx2:
      if (in_place) {
        rnn_lstm_backward_row_in_place_avx2(dg, ct, cp, dc, dh, U);
      } else {
        rnn_lstm_backward_row_avx2(g, ct, cp, dc, dh, dg, U);
      }
      return;
    default:
      break;
  }
#endif
  if (in_place) {
    lstm_backward_row_in_place_impl(dg, dg + U, dg + 2 * U, dg + 3 * U, ct, cp, dc, dh, U);
  } else {
    lstm_backward_row_impl(g, ct, cp, dc, dh, dg, U);
  }
}

void lstm_forward_row(float* g, float* c, float* cs, float* h, bool keep, int64_t U) {
#if defined(FASTKERAS_X86)
  switch (gemm_isa()) {
    case Isa::kAvx512:
      rnn_lstm_forward_row_avx512(g, c, cs, h, keep, U);
      return;
    case Isa::kAvx2:
      rnn_lstm_forward_row_avx2(g, c, cs, h, keep, U);
      return;
    default:
      break;
  }
#endif
  lstm_forward_row_impl(g, c, cs, h, keep, U);
}

// d act / d pre-activation, from the activation's output y.
inline float act_grad(RnnActivation act, float y) {
  switch (act) {
    case RnnActivation::kTanh:
      return 1.0f - y * y;
    case RnnActivation::kSigmoid:
      return y * (1.0f - y);
    case RnnActivation::kRelu:
      return y > 0.0f ? 1.0f : 0.0f;
    case RnnActivation::kLinear:
      return 1.0f;
    case RnnActivation::kHardSigmoid:
      return (y > 0.0f && y < 1.0f) ? 1.0f / 6.0f : 0.0f;
  }
  return 1.0f;
}

// C = beta * C + op(A) @ op(B) (+ bias), single call into the foundation GEMM.
void gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          const float* bias = nullptr) {
  if (m <= 0 || n <= 0) return;
  GemmArgs g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a;
  g.lda = lda;
  g.b = b;
  g.ldb = ldb;
  g.beta = beta;
  g.c = c;
  g.ldc = ldc;
  g.bias = bias;
  sgemm(g);
}

struct Shape {
  int64_t B, T, I, U, G, GU;
  int64_t K;  // floats in a row of the `xh` workspace: [x | hprev | 1]
  explicit Shape(const RnnArgs& a)
      : B(a.batch),
        T(a.steps),
        I(a.in),
        U(a.units),
        G(rnn_gate_count(a.cell)),
        GU(rnn_gate_count(a.cell) * a.units),
        K(a.in + a.units + 1) {}
  int64_t time_of(const RnnArgs& a, int64_t s) const { return a.reverse ? T - 1 - s : s; }
  // Row of sequence b at time t in the time-major workspace buffers (gates, xh, state,
  // dgates): one step's rows are contiguous, so each step streams one block.
  int64_t ws_row(int64_t b, int64_t t) const { return t * B + b; }
  // The state workspace row `row` started from (its stride is K).
  float* hprev(const RnnArgs& a, int64_t row) const { return a.xh + row * K + I; }
};

// Without dropout masks a SimpleRNN/LSTM step multiplies [x_t | h_{t-1}] by [W; R] in one GEMM
// (the input projection is folded into the recurrent product), and the forward leaves those
// rows, with a 1 for the bias, in `xh`, where the backward's kernel gradient GEMM reads them.
bool folds_input(const RnnArgs& a) {
  return (a.cell == RnnCell::kSimple || a.cell == RnnCell::kLstm) && !a.in_mask && !a.rec_mask;
}

void check_args(const RnnArgs& a) {
  if (a.batch < 0 || a.steps < 0 || a.in <= 0 || a.units <= 0) {
    throw std::invalid_argument("rnn: batch/steps must be >= 0 and in/units > 0");
  }
  if (!a.x || !a.w || !a.r || !a.gates || !a.xh) {
    throw std::invalid_argument("rnn: x, w, r, gates and xh are required");
  }
  if (a.cell != RnnCell::kSimple && !a.state) {
    throw std::invalid_argument("rnn: this cell needs the `state` workspace");
  }
}

// Splits the batch into contiguous row ranges, one per thread, and runs fn(r0, r1) on each.
template <typename Fn>
void over_batch_rows(const Shape& s, Fn&& fn) {
  const double flops = 2.0 * static_cast<double>(s.B) * s.U * s.GU * std::max<int64_t>(s.T, 1);
  const int threads = threads_for(flops, std::max<int64_t>(s.B, 1));
  run_parallel(threads, [&](int t) {
    const int64_t r0 = s.B * t / threads, r1 = s.B * (t + 1) / threads;
    if (r1 > r0) fn(r0, r1);
  });
}

// wr: [W; R], (in + units) x G*units, when folds_input(a); otherwise null.
void forward_rows(const RnnArgs& a, const Shape& s, const float* wr, int64_t r0, int64_t r1) {
  const int64_t rows = r1 - r0, U = s.U, T = s.T, GU = s.GU, I = s.I, K = s.K;
  const int64_t ldg = GU;
  // The state h lives in the workspace: step t's previous state is the h slot of its `xh` rows,
  // and each step writes its new state straight into the next step's slot (the last step's into
  // h), so the state is never copied in and out of a separate array.
  std::vector<float> h(rows * U, 0.0f), c(a.cell == RnnCell::kLstm ? rows * U : 0, 0.0f);
  std::vector<float> prev_out(rows * U, 0.0f), hd(a.rec_mask ? rows * GU : 0);
  std::vector<float> rec(a.cell == RnnCell::kGruResetAfter ? rows * GU : 0);
  std::vector<float> hn(U), tmp(U);
  if (a.h0) std::copy(a.h0 + r0 * U, a.h0 + r1 * U, h.begin());
  if (a.c0 && !c.empty()) std::copy(a.c0 + r0 * U, a.c0 + r1 * U, c.begin());

  for (int64_t step = 0; step < T; ++step) {
    const int64_t t = s.time_of(a, step);
    if (step + 1 < T && !wr) {  // the next step's input projections, written long ago
      prefetch_block(a.gates + s.ws_row(r0, s.time_of(a, step + 1)) * GU, rows * GU);
    }
    float* xh_rows = a.xh + s.ws_row(r0, t) * K;
    float* xh_next = step + 1 < T ? a.xh + s.ws_row(r0, s.time_of(a, step + 1)) * K : nullptr;
    for (int64_t i = 0; i < rows; ++i) {
      float* o = xh_rows + i * K;
      if (wr) {
        const float* xr = a.x + ((r0 + i) * T + t) * I;
        std::copy(xr, xr + I, o);
        o[I + U] = 1.0f;
      }
      if (step == 0) std::copy(h.begin() + i * U, h.begin() + (i + 1) * U, o + I);
    }
    // The operand of each gate's recurrent product: the previous state, or with recurrent
    // dropout the state times that gate's mask (gate block g of hd), one GEMM per gate.
    const float* hop = xh_rows + I;
    const int64_t ldhop = K;
    if (a.rec_mask) {
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < GU; ++j)
          hd[i * GU + j] = xh_rows[i * K + I + j % U] * a.rec_mask[(r0 + i) * GU + j];
    }
    // C[:, gates g0..g1) += (operand of those gates) @ R[:, those gates] (+ bias).
    auto recurrent = [&](int64_t g0, int64_t g1, float beta, float* c, int64_t ldc,
                         const float* bias) {
      if (!a.rec_mask) {
        gemm(Trans::kNo, Trans::kNo, rows, (g1 - g0) * U, U, hop, ldhop, a.r + g0 * U, GU, beta, c,
             ldc, bias);
        return;
      }
      for (int64_t g = g0; g < g1; ++g) {
        gemm(Trans::kNo, Trans::kNo, rows, U, U, hd.data() + g * U, GU, a.r + g * U, GU, beta,
             c + (g - g0) * U, ldc, bias ? bias + (g - g0) * U : nullptr);
      }
    };
    float* gt = a.gates + s.ws_row(r0, t) * GU;
    switch (a.cell) {
      case RnnCell::kSimple:
      case RnnCell::kLstm:
        if (wr) {
          // [x_t | h_{t-1}] @ [W; R] + b; the first step starts from zeros unless an initial
          // state was given, so its product needs only the x columns.
          const int64_t depth = (step > 0 || a.h0) ? I + U : I;
          gemm(Trans::kNo, Trans::kNo, rows, GU, depth, xh_rows, K, wr, GU, 0.0f, gt, ldg, a.b);
        } else if (step > 0 || a.h0) {
          recurrent(0, s.G, 1.0f, gt, ldg, nullptr);
        }
        break;
      case RnnCell::kGruResetAfter:
        recurrent(0, 3, 0.0f, rec.data(), GU, a.rb);
        break;
      case RnnCell::kGru: {
        recurrent(0, 2, 1.0f, gt, ldg, nullptr);
        // r * h for every row, then the candidate's recurrent product from it.
        for (int64_t i = 0; i < rows; ++i) {
          float* g = gt + i * ldg;
          apply_act(a.rec_act, g, 2 * U);
          float* rh = a.state + s.ws_row(r0 + i, t) * U;
          const float* hrow = a.rec_mask ? hd.data() + i * GU + 2 * U : hop + i * ldhop;
          for (int64_t u = 0; u < U; ++u) rh[u] = g[U + u] * hrow[u];
        }
        gemm(Trans::kNo, Trans::kNo, rows, U, U, a.state + s.ws_row(r0, t) * U, U, a.r + 2 * U, GU,
             1.0f, gt + 2 * U, ldg);
        break;
      }
    }
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t b = r0 + i;
      float* g = gt + i * ldg;
      const float* hp = xh_rows + i * K + I;  // the previous state
      float* hnext = xh_next ? xh_next + i * K + I : h.data() + i * U;
      // Without a mask every step keeps its new state, so it is computed in place.
      float* hout = a.mask ? hn.data() : hnext;
      float* st = a.state ? a.state + s.ws_row(b, t) * U : nullptr;
      const bool keep = !a.mask || a.mask[b * T + t] != 0.0f;
      switch (a.cell) {
        case RnnCell::kSimple:
          apply_act(a.act, g, U);
          std::copy(g, g + U, hout);
          break;
        case RnnCell::kLstm: {
          float* crow = c.data() + i * U;
          if (a.act == RnnActivation::kTanh && a.rec_act == RnnActivation::kSigmoid) {
            lstm_forward_row(g, crow, st, hout, keep, U);  // Keras's defaults
            break;
          }
          apply_act(a.rec_act, g, 2 * U);
          apply_act(a.act, g + 2 * U, U);
          apply_act(a.rec_act, g + 3 * U, U);
          for (int64_t u = 0; u < U; ++u) tmp[u] = g[U + u] * crow[u] + g[u] * g[2 * U + u];
          if (keep) std::copy(tmp.begin(), tmp.end(), crow);
          std::copy(crow, crow + U, st);
          apply_act(a.act, tmp.data(), U);
          for (int64_t u = 0; u < U; ++u) hout[u] = g[3 * U + u] * tmp[u];
          break;
        }
        case RnnCell::kGruResetAfter: {
          const float* rr = rec.data() + i * GU;
          for (int64_t u = 0; u < 2 * U; ++u) g[u] += rr[u];
          apply_act(a.rec_act, g, 2 * U);
          for (int64_t u = 0; u < U; ++u) {
            st[u] = rr[2 * U + u];
            g[2 * U + u] += g[U + u] * rr[2 * U + u];
          }
          apply_act(a.act, g + 2 * U, U);
          for (int64_t u = 0; u < U; ++u) {
            hout[u] = g[u] * hp[u] + (1.0f - g[u]) * g[2 * U + u];
          }
          break;
        }
        case RnnCell::kGru:
          apply_act(a.act, g + 2 * U, U);
          for (int64_t u = 0; u < U; ++u) {
            hout[u] = g[u] * hp[u] + (1.0f - g[u]) * g[2 * U + u];
          }
          break;
      }
      // The output of this step: into y, or with only y_last wanted, at the last step alone.
      // prev_out (what a masked step repeats) is only kept when there is a mask.
      float* out =
          a.y ? a.y + (b * T + step) * U : (step == T - 1 && a.y_last ? a.y_last + b * U : nullptr);
      if (!a.mask) {  // hout is hnext
        if (out) std::copy(hout, hout + U, out);
        continue;
      }
      float* po = prev_out.data() + i * U;
      if (keep) {
        std::copy(hn.begin(), hn.end(), hnext);
        if (out) std::copy(hn.begin(), hn.end(), out);
        std::copy(hn.begin(), hn.end(), po);
      } else {
        std::copy(hp, hp + U, hnext);  // the state carries over
        if (out && a.zero_masked_outputs) {
          std::fill(out, out + U, 0.0f);
        } else if (out) {
          std::copy(po, po + U, out);
        }
      }
    }
  }
  if (a.h_last) std::copy(h.begin(), h.end(), a.h_last + r0 * U);
  if (a.c_last && !c.empty()) std::copy(c.begin(), c.end(), a.c_last + r0 * U);
}

// dhd += sum over gates g in [g0, g1) of (dG_g @ R_g^T) * rec_mask_g: the gradient reaching
// the previous state through those gates' recurrent products (one GEMM without masks).
// rt is R transposed, (G*U, U) row-major, so gate block g of R^T is rows [g*U, (g+1)*U): the
// per-step products read it untransposed, which the GEMM streams far faster.
void recurrent_input_grad(const RnnArgs& a, const Shape& s, const float* rt, int64_t r0,
                          int64_t rows, const float* dg, int64_t ldg, int64_t g0, int64_t g1,
                          float* dhd, float* scratch) {
  const int64_t U = s.U, GU = s.GU;
  if (!a.rec_mask) {
    gemm(Trans::kNo, Trans::kNo, rows, U, (g1 - g0) * U, dg + g0 * U, ldg, rt + g0 * U * U, U, 1.0f,
         dhd, U);
    return;
  }
  for (int64_t g = g0; g < g1; ++g) {
    gemm(Trans::kNo, Trans::kNo, rows, U, U, dg + g * U, ldg, rt + g * U * U, U, 0.0f, scratch, U);
    for (int64_t i = 0; i < rows; ++i) {
      const float* m = a.rec_mask + (r0 + i) * GU + g * U;
      for (int64_t u = 0; u < U; ++u) dhd[i * U + u] += scratch[i * U + u] * m[u];
    }
  }
}

void backward_rows(const RnnArgs& a, const Shape& s, const float* rt, int64_t r0, int64_t r1) {
  const int64_t rows = r1 - r0, U = s.U, T = s.T, GU = s.GU;
  const int64_t ldg = GU;
  const bool lstm = a.cell == RnnCell::kLstm;
  const bool gru = a.cell == RnnCell::kGru || a.cell == RnnCell::kGruResetAfter;
  std::vector<float> dh(rows * U, 0.0f), dc(lstm ? rows * U : 0, 0.0f);
  std::vector<float> dy_carry(rows * U, 0.0f), tmp(U), zeros(U, 0.0f);
  std::vector<float> dhd(a.cell == RnnCell::kGru ? rows * U : 0);  // GRU's d(r * h)
  std::vector<float> dgate_h(a.rec_mask ? rows * U : 0);           // one gate's share of dhd
  std::vector<char> keep(rows);
  if (a.dh_last) std::copy(a.dh_last + r0 * U, a.dh_last + r1 * U, dh.begin());
  if (a.dc_last && lstm) std::copy(a.dc_last + r0 * U, a.dc_last + r1 * U, dc.begin());

  for (int64_t step = T - 1; step >= 0; --step) {
    const int64_t t = s.time_of(a, step);
    const int64_t tp = step > 0 ? s.time_of(a, step - 1) : -1;
    if (tp >= 0) {  // the next step's gates and states (only a GRU reads the saved h here)
      prefetch_block(a.gates + s.ws_row(r0, tp) * GU, rows * GU);
      if (gru) prefetch_block(a.xh + s.ws_row(r0, tp) * s.K, rows * s.K);
      if (a.state) prefetch_block(a.state + s.ws_row(r0, tp) * U, rows * U);
    }
    float* dgt = a.dgates + s.ws_row(r0, t) * GU;
    float* dgr = a.dgates_rec ? a.dgates_rec + s.ws_row(r0, t) * GU : nullptr;
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t b = r0 + i;
      keep[i] = !a.mask || a.mask[b * T + t] != 0.0f;
      float* dhr = dh.data() + i * U;
      float* dyc = dy_carry.data() + i * U;
      const float* dyr = a.dy ? a.dy + (b * T + step) * U : nullptr;
      const float* dyl = (a.dy_last && step == T - 1) ? a.dy_last + b * U : nullptr;
      // Without a mask the carried output gradient stays zero, so a step with no output
      // gradient of its own adds nothing.
      if (dyr || dyl || a.mask) {
        for (int64_t u = 0; u < U; ++u) {
          float gy = dyc[u];
          if (dyr) gy += dyr[u];
          if (dyl) gy += dyl[u];
          if (keep[i]) {
            dhr[u] += gy;
            dyc[u] = 0.0f;
          } else {
            dyc[u] = a.zero_masked_outputs ? 0.0f : gy;
          }
        }
      }
      float* dg = dgt + i * ldg;
      if (!keep[i]) {  // the step left the state alone: no gate gradient, dh/dc pass through
        std::fill(dg, dg + GU, 0.0f);
        if (dgr) std::fill(dgr + i * ldg, dgr + i * ldg + GU, 0.0f);
        continue;
      }
      const float* g = a.gates + s.ws_row(b, t) * GU;
      const float* hp = s.hprev(a, s.ws_row(b, t));
      switch (a.cell) {
        case RnnCell::kSimple:
          for (int64_t u = 0; u < U; ++u) dg[u] = dhr[u] * act_grad(a.act, g[u]);
          std::fill(dhr, dhr + U, 0.0f);
          break;
        case RnnCell::kLstm: {
          const float* ct = a.state + s.ws_row(b, t) * U;
          const float* cp =
              tp >= 0 ? a.state + s.ws_row(b, tp) * U : (a.c0 ? a.c0 + b * U : zeros.data());
          float* dcr = dc.data() + i * U;
          if (a.act == RnnActivation::kTanh && a.rec_act == RnnActivation::kSigmoid) {
            lstm_backward_row(g, ct, cp, dcr, dhr, dg, U);  // Keras's defaults
            break;
          }
          std::copy(ct, ct + U, tmp.begin());
          apply_act(a.act, tmp.data(), U);
          for (int64_t u = 0; u < U; ++u) {
            const float ig = g[u], fg = g[U + u], cg = g[2 * U + u], og = g[3 * U + u];
            const float dct = dcr[u] + dhr[u] * og * act_grad(a.act, tmp[u]);
            dg[u] = dct * cg * act_grad(a.rec_act, ig);
            dg[U + u] = dct * cp[u] * act_grad(a.rec_act, fg);
            dg[2 * U + u] = dct * ig * act_grad(a.act, cg);
            dg[3 * U + u] = dhr[u] * tmp[u] * act_grad(a.rec_act, og);
            dcr[u] = dct * fg;
            dhr[u] = 0.0f;
          }
          break;
        }
        case RnnCell::kGruResetAfter: {
          const float* rech = a.state + s.ws_row(b, t) * U;
          float* dr = dgr + i * ldg;
          for (int64_t u = 0; u < U; ++u) {
            const float z = g[u], r = g[U + u], hh = g[2 * U + u];
            const float dz = dhr[u] * (hp[u] - hh);
            const float dah = dhr[u] * (1.0f - z) * act_grad(a.act, hh);
            dg[u] = dr[u] = dz * act_grad(a.rec_act, z);
            dg[U + u] = dr[U + u] = dah * rech[u] * act_grad(a.rec_act, r);
            dg[2 * U + u] = dah;
            dr[2 * U + u] = dah * r;
            dhr[u] *= z;
          }
          break;
        }
        case RnnCell::kGru:
          for (int64_t u = 0; u < U; ++u) {
            const float z = g[u], hh = g[2 * U + u];
            dg[u] = dhr[u] * (hp[u] - hh) * act_grad(a.rec_act, z);
            dg[2 * U + u] = dhr[u] * (1.0f - z) * act_grad(a.act, hh);
            dhr[u] *= z;
          }
          break;
      }
    }
    // Gradient with respect to the (dropped-out) previous state through the recurrent kernel.
    if (a.cell == RnnCell::kGru) {
      // d(r*h) = da_h @ R_h^T, then the reset gate's gradient, then the z/r products.
      gemm(Trans::kNo, Trans::kNo, rows, U, U, dgt + 2 * U, ldg, rt + 2 * U * U, U, 0.0f,
           dhd.data(), U);
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t b = r0 + i;
        float* dg = dgt + i * ldg;
        float* d = dhd.data() + i * U;
        if (!keep[i]) continue;  // its dg row is zero, so d is zero too
        const float* g = a.gates + s.ws_row(b, t) * GU;
        const float* hp = s.hprev(a, s.ws_row(b, t));
        // The candidate saw h times its own mask (gate block 2).
        const float* rm = a.rec_mask ? a.rec_mask + b * GU + 2 * U : nullptr;
        for (int64_t u = 0; u < U; ++u) {
          const float hdu = rm ? hp[u] * rm[u] : hp[u];
          dg[U + u] = d[u] * hdu * act_grad(a.rec_act, g[U + u]);
          d[u] *= rm ? g[U + u] * rm[u] : g[U + u];
        }
      }
      recurrent_input_grad(a, s, rt, r0, rows, dgt, ldg, 0, 2, dhd.data(), dgate_h.data());
      for (int64_t i = 0; i < rows; ++i) {
        float* dhr = dh.data() + i * U;
        const float* d = dhd.data() + i * U;
        for (int64_t u = 0; u < U; ++u) dhr[u] += d[u];
      }
    } else {
      // Straight into dh, which the row pass above left holding only what reaches the
      // previous state directly (nothing for SimpleRNN/LSTM, z * dh for GRU); a skipped
      // row's gate gradients are zero, so its dh passes through unchanged.
      // After the first step, dh is the initial state's gradient: only wanted as dh0.
      const float* src = a.cell == RnnCell::kGruResetAfter ? dgr : dgt;
      if (step > 0 || a.dh0) {
        recurrent_input_grad(a, s, rt, r0, rows, src, ldg, 0, s.G, dh.data(), dgate_h.data());
      }
    }
  }
  if (a.dh0) std::copy(dh.begin(), dh.end(), a.dh0 + r0 * U);
  if (a.dc0) {
    if (lstm) {
      std::copy(dc.begin(), dc.end(), a.dc0 + r0 * U);
    } else {
      std::fill(a.dc0 + r0 * U, a.dc0 + r1 * U, 0.0f);
    }
  }
}

// out (time-major, (steps, batch, in)) = x (batch, steps, in), each row of sequence b times
// m[b] when m is given (m: (batch, ldm), `in` values used).
void to_time_major(const float* x, const float* m, int64_t ldm, const Shape& s, float* out) {
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.T; ++t) {
      const float* xr = x + (b * s.T + t) * s.I;
      float* o = out + s.ws_row(b, t) * s.I;
      if (m) {
        for (int64_t i = 0; i < s.I; ++i) o[i] = xr[i] * m[b * ldm + i];
      } else {
        std::copy(xr, xr + s.I, o);
      }
    }
}

// x (batch, steps, in) (+)= the time-major xt, each row of sequence b times m[b] when m is
// given; accumulates when `add`.
void add_from_time_major(const float* xt, const float* m, int64_t ldm, const Shape& s, bool add,
                         float* x) {
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.T; ++t) {
      const float* src = xt + s.ws_row(b, t) * s.I;
      float* o = x + (b * s.T + t) * s.I;
      for (int64_t i = 0; i < s.I; ++i) {
        const float v = m ? src[i] * m[b * ldm + i] : src[i];
        o[i] = add ? o[i] + v : v;
      }
    }
}

// dst (cols x rows) = src (rows x cols)^T, in square tiles so that both sides are read and
// written a few cache lines at a time; the columns are split among the threads.
void transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
  constexpr int64_t kTile = 16;
  const int64_t tiles = (cols + kTile - 1) / kTile;
  const int threads = threads_for(8.0 * static_cast<double>(rows) * cols, tiles);
  run_parallel(threads, [&](int t) {
    const int64_t c0 = tiles * t / threads * kTile;
    const int64_t c1 = std::min(cols, tiles * (t + 1) / threads * kTile);
    for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
      const int64_t r1 = std::min(rows, r0 + kTile);
      for (int64_t j0 = c0; j0 < c1; j0 += kTile) {
        const int64_t j1 = std::min(c1, j0 + kTile);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t j = j0; j < j1; ++j) dst[j * rows + r] = src[r * cols + j];
      }
    }
  });
}

// A per-thread scratch array of at least n floats, kept between calls, starting on a cache
// line: the threads of a GEMM writing into it then never share a line at their boundary.
float* scratch_floats(std::vector<float>& v, int64_t n) {
  constexpr int64_t kLine = 64;
  const int64_t want = n + kLine / static_cast<int64_t>(sizeof(float)) - 1;
  if (static_cast<int64_t>(v.size()) < want) v.resize(static_cast<size_t>(want));
  const auto p = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<float*>((p + kLine - 1) / kLine * kLine);
}

}  // namespace

void rnn_forward(const RnnArgs& a) {
  check_args(a);
  const Shape s(a);
  const int64_t rows = s.B * s.T;
  const float* wr = nullptr;
  if (folds_input(a)) {
    // [W; R] once per call, shared by the threads' per-step products.
    thread_local std::vector<float> wr_buf;
    float* p = scratch_floats(wr_buf, (s.I + s.U) * s.GU);
    std::copy(a.w, a.w + s.I * s.GU, p);
    std::copy(a.r, a.r + s.U * s.GU, p + s.I * s.GU);
    wr = p;
  } else if (rows > 0) {
    // Every timestep's input projection (and input bias) in one GEMM over the input laid out
    // time-major like the gates; with per-gate input dropout, one GEMM per gate on the input
    // times that gate's mask.
    thread_local std::vector<float> xt_buf;
    float* xt = scratch_floats(xt_buf, rows * s.I);
    for (int64_t g = 0; g < (a.in_mask ? s.G : 1); ++g) {
      const int64_t g0 = a.in_mask ? g : 0, width = a.in_mask ? s.U : s.GU;
      to_time_major(a.x, a.in_mask ? a.in_mask + g * s.I : nullptr, s.G * s.I, s, xt);
      gemm(Trans::kNo, Trans::kNo, rows, width, s.I, xt, s.I, a.w + g0 * s.U, s.GU, 0.0f,
           a.gates + g0 * s.U, s.GU, a.b ? a.b + g0 * s.U : nullptr);
    }
  }
  if (s.T == 0) {
    for (int64_t i = 0; i < s.B * s.U; ++i) {
      if (a.h_last) a.h_last[i] = a.h0 ? a.h0[i] : 0.0f;
      if (a.c_last) a.c_last[i] = a.c0 ? a.c0[i] : 0.0f;
    }
    return;
  }
  over_batch_rows(s, [&](int64_t r0, int64_t r1) { forward_rows(a, s, wr, r0, r1); });
}

void rnn_backward(const RnnArgs& a) {
  check_args(a);
  if (!a.dgates) throw std::invalid_argument("rnn_backward: the `dgates` workspace is required");
  if (a.dgates == a.gates && (a.cell == RnnCell::kGru || a.cell == RnnCell::kGruResetAfter)) {
    throw std::invalid_argument("rnn_backward: a GRU's `dgates` cannot be its `gates`");
  }
  if (a.cell == RnnCell::kGruResetAfter && !a.dgates_rec) {
    throw std::invalid_argument("rnn_backward: GRU(reset_after) needs the `dgates_rec` workspace");
  }
  const Shape s(a);
  const int64_t BT = s.B * s.T, U = s.U, GU = s.GU;
  if (s.T > 0) {
    // R^T once per call (U * G*U floats), shared by the threads' per-step products.
    thread_local std::vector<float> rt;
    rt.resize(static_cast<size_t>(GU * U));
    transpose(a.r, U, GU, rt.data());
    const float* rtp = rt.data();
    over_batch_rows(s, [&](int64_t r0, int64_t r1) { backward_rows(a, s, rtp, r0, r1); });
  } else {
    for (int64_t i = 0; i < s.B * U; ++i) {
      if (a.dh0) a.dh0[i] = a.dh_last ? a.dh_last[i] : 0.0f;
      if (a.dc0) a.dc0[i] = (a.dc_last && a.cell == RnnCell::kLstm) ? a.dc_last[i] : 0.0f;
    }
  }
  auto zero = [](float* p, int64_t n) {
    if (p) std::fill(p, p + n, 0.0f);
  };
  if (BT == 0) {
    zero(a.dx, 0);
    zero(a.dw, s.I * GU);
    zero(a.dr, U * GU);
    zero(a.db, GU);
    zero(a.drb, GU);
    return;
  }
  // Without dropout masks, a SimpleRNN/LSTM's kernel, recurrent kernel and bias gradients are
  // one product: [x | hprev | 1]^T @ dG, (in + units + 1) x G*units over all timesteps, so the
  // gate gradients (the largest array here) stream through one GEMM instead of three passes.
  // The forward left those rows in `xh` (folds_input).
  const bool fused = folds_input(a) && a.dw && a.dr;
  if (fused) {
    const int64_t I = s.I, K = I + U + (a.db ? 1 : 0);
    thread_local std::vector<float> wgrad_buf;
    float* wg = scratch_floats(wgrad_buf, K * GU);
    gemm(Trans::kYes, Trans::kNo, K, GU, BT, a.xh, s.K, a.dgates, GU, 0.0f, wg, GU);
    std::copy(wg, wg + I * GU, a.dw);
    std::copy(wg + I * GU, wg + (I + U) * GU, a.dr);
    if (a.db) std::copy(wg + (I + U) * GU, wg + K * GU, a.db);
  }
  // The workspace is time-major: the input gradient comes out time-major and is scattered
  // back to (batch, steps, in); the kernel gradient reads the input laid out the same way.
  thread_local std::vector<float> xt_buf, dxt_buf;
  float* xt = (a.dw && !fused) ? scratch_floats(xt_buf, BT * s.I) : nullptr;
  float* dxt = a.dx ? scratch_floats(dxt_buf, BT * s.I) : nullptr;
  if (!a.in_mask) {
    if (a.dx) {
      gemm(Trans::kNo, Trans::kYes, BT, s.I, GU, a.dgates, GU, a.w, GU, 0.0f, dxt, s.I);
      add_from_time_major(dxt, nullptr, 0, s, false, a.dx);
    }
    if (a.dw && !fused) {
      to_time_major(a.x, nullptr, 0, s, xt);
      gemm(Trans::kYes, Trans::kNo, s.I, GU, BT, xt, s.I, a.dgates, GU, 0.0f, a.dw, GU);
    }
  } else if (a.dx || a.dw) {
    // Gate g saw x * m_g: dx = sum_g (dG_g @ W_g^T) * m_g, dW_g = (x * m_g)^T @ dG_g.
    for (int64_t g = 0; g < s.G; ++g) {
      const float* m = a.in_mask + g * s.I;
      if (a.dx) {
        gemm(Trans::kNo, Trans::kYes, BT, s.I, U, a.dgates + g * U, GU, a.w + g * U, GU, 0.0f, dxt,
             s.I);
        add_from_time_major(dxt, m, s.G * s.I, s, g > 0, a.dx);
      }
      if (a.dw) {
        to_time_major(a.x, m, s.G * s.I, s, xt);
        gemm(Trans::kYes, Trans::kNo, s.I, U, BT, xt, s.I, a.dgates + g * U, GU, 0.0f, a.dw + g * U,
             GU);
      }
    }
  }
  if (a.db && !fused) column_sums(a.dgates, BT, GU, GU, 0.0f, a.db);
  if (a.dr && a.rec_mask) {
    // Gate g's recurrent product saw hprev * m_g: dR_g = (hprev * m_g)^T @ dG_g. GRU's
    // candidate (reset before) comes from its saved r * h * m, as without dropout.
    const bool gru_before = a.cell == RnnCell::kGru;
    const float* src = a.cell == RnnCell::kGruResetAfter ? a.dgates_rec : a.dgates;
    const int64_t masked_gates = gru_before ? 2 : s.G;
    std::vector<float> hs(BT * U);
    for (int64_t g = 0; g < masked_gates; ++g) {
      for (int64_t b = 0; b < s.B; ++b)
        for (int64_t t = 0; t < s.T; ++t) {
          const float* hp = s.hprev(a, s.ws_row(b, t));
          const float* m = a.rec_mask + b * GU + g * U;
          float* o = hs.data() + s.ws_row(b, t) * U;
          for (int64_t u = 0; u < U; ++u) o[u] = hp[u] * m[u];
        }
      gemm(Trans::kYes, Trans::kNo, U, U, BT, hs.data(), U, src + g * U, GU, 0.0f, a.dr + g * U,
           GU);
    }
    if (gru_before) {
      gemm(Trans::kYes, Trans::kNo, U, U, BT, a.state, U, a.dgates + 2 * U, GU, 0.0f, a.dr + 2 * U,
           GU);
    }
  } else if (a.dr && !fused) {
    switch (a.cell) {
      case RnnCell::kSimple:
      case RnnCell::kLstm:
        gemm(Trans::kYes, Trans::kNo, U, GU, BT, a.xh + s.I, s.K, a.dgates, GU, 0.0f, a.dr, GU);
        break;
      case RnnCell::kGruResetAfter:
        gemm(Trans::kYes, Trans::kNo, U, GU, BT, a.xh + s.I, s.K, a.dgates_rec, GU, 0.0f, a.dr, GU);
        break;
      case RnnCell::kGru:
        gemm(Trans::kYes, Trans::kNo, U, 2 * U, BT, a.xh + s.I, s.K, a.dgates, GU, 0.0f, a.dr, GU);
        gemm(Trans::kYes, Trans::kNo, U, U, BT, a.state, U, a.dgates + 2 * U, GU, 0.0f,
             a.dr + 2 * U, GU);
        break;
    }
  }
  if (a.drb) {
    if (a.cell == RnnCell::kGruResetAfter) {
      column_sums(a.dgates_rec, BT, GU, GU, 0.0f, a.drb);
    } else {
      zero(a.drb, GU);
    }
  }
}

}  // namespace fastkeras
