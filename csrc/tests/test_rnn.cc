// The recurrent kernels against a naive double-precision reference: forward outputs and states
// for every cell, and every gradient against central finite differences of the reference, on
// awkward shapes with masks, go_backwards, initial states and recurrent dropout.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"
#include "kernels/rnn/rnn.h"

namespace fastkeras {
namespace {

using Vec = std::vector<double>;

double act_ref(RnnActivation a, double v) {
  switch (a) {
    case RnnActivation::kTanh:
      return std::tanh(v);
    case RnnActivation::kSigmoid:
      return 1.0 / (1.0 + std::exp(-v));
    case RnnActivation::kRelu:
      return v > 0 ? v : 0;
    case RnnActivation::kLinear:
      return v;
    case RnnActivation::kHardSigmoid:
      return std::min(1.0, std::max(0.0, v / 6 + 0.5));
  }
  return v;
}

struct Problem {
  RnnCell cell;
  RnnActivation act = RnnActivation::kTanh, rec_act = RnnActivation::kSigmoid;
  int64_t B, T, I, U;
  bool reverse = false, zero_out = false, use_mask = false, use_h0 = false, use_rec_mask = false;
  bool use_in_mask = false;
  int G() const { return rnn_gate_count(cell); }
  int64_t GU() const { return G() * U; }
};

struct Params {
  Vec x, w, r, b, rb, h0, c0;
};
struct Fixed {
  Vec mask, rec_mask, in_mask;  // rec_mask (B, G*U) and in_mask (B, G*I): one mask per gate
};
struct Out {
  Vec y, h, c;
};

// A readable per-step implementation of Keras's cells (the spec), in double.
Out reference(const Problem& p, const Params& q, const Fixed& f) {
  const int64_t B = p.B, T = p.T, I = p.I, U = p.U, GU = p.GU();
  Out o{Vec(B * T * U), Vec(B * U), Vec(B * U)};
  for (int64_t b = 0; b < B; ++b) {
    Vec h(U, 0), c(U, 0), prev(U, 0);
    if (p.use_h0)
      for (int64_t u = 0; u < U; ++u) h[u] = q.h0[b * U + u], c[u] = q.c0[b * U + u];
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = p.reverse ? T - 1 - s : s;
      // hd: the state as gate g's recurrent product sees it (times that gate's mask).
      Vec xw(GU, 0), hr(GU, 0), hd(GU);
      for (int64_t j = 0; j < GU; ++j)
        hd[j] = h[j % U] * (p.use_rec_mask ? f.rec_mask[b * GU + j] : 1);
      for (int64_t j = 0; j < GU; ++j) {
        const int64_t gate = j / U;
        xw[j] = q.b[j];
        for (int64_t i = 0; i < I; ++i) {
          const double m = p.use_in_mask ? f.in_mask[b * p.G() * I + gate * I + i] : 1;
          xw[j] += q.x[(b * T + t) * I + i] * m * q.w[i * GU + j];
        }
        hr[j] = p.cell == RnnCell::kGruResetAfter ? q.rb[j] : 0;
        for (int64_t k = 0; k < U; ++k) hr[j] += hd[gate * U + k] * q.r[k * GU + j];
      }
      Vec hn(U), cn = c;
      for (int64_t u = 0; u < U; ++u) {
        switch (p.cell) {
          case RnnCell::kSimple:
            hn[u] = act_ref(p.act, xw[u] + hr[u]);
            break;
          case RnnCell::kLstm: {
            double i = act_ref(p.rec_act, xw[u] + hr[u]);
            double fg = act_ref(p.rec_act, xw[U + u] + hr[U + u]);
            double cc = act_ref(p.act, xw[2 * U + u] + hr[2 * U + u]);
            double og = act_ref(p.rec_act, xw[3 * U + u] + hr[3 * U + u]);
            cn[u] = fg * c[u] + i * cc;
            hn[u] = og * act_ref(p.act, cn[u]);
            break;
          }
          case RnnCell::kGruResetAfter: {
            double z = act_ref(p.rec_act, xw[u] + hr[u]);
            double r = act_ref(p.rec_act, xw[U + u] + hr[U + u]);
            double hh = act_ref(p.act, xw[2 * U + u] + r * hr[2 * U + u]);
            hn[u] = z * h[u] + (1 - z) * hh;
            break;
          }
          case RnnCell::kGru: {
            double z = act_ref(p.rec_act, xw[u] + hr[u]);
            double acc = xw[2 * U + u];
            for (int64_t k = 0; k < U; ++k) {
              double rk = act_ref(p.rec_act, xw[U + k] + hr[U + k]);
              acc += rk * hd[2 * U + k] * q.r[k * GU + 2 * U + u];
            }
            double hh = act_ref(p.act, acc);
            hn[u] = z * h[u] + (1 - z) * hh;
            break;
          }
        }
      }
      const bool keep = !p.use_mask || f.mask[b * T + t] != 0;
      for (int64_t u = 0; u < U; ++u) {
        double out;
        if (keep) {
          h[u] = hn[u];
          c[u] = cn[u];
          prev[u] = hn[u];
          out = hn[u];
        } else {
          out = p.zero_out ? 0 : prev[u];
        }
        o.y[(b * T + s) * U + u] = out;
      }
    }
    for (int64_t u = 0; u < U; ++u) o.h[b * U + u] = h[u], o.c[b * U + u] = c[u];
  }
  return o;
}

std::vector<float> to_f(const Vec& v) { return std::vector<float>(v.begin(), v.end()); }

void run_case(const Problem& p, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(-0.8, 0.8);
  const int64_t B = p.B, T = p.T, I = p.I, U = p.U, GU = p.GU();
  auto rnd = [&](int64_t n) {
    Vec v(n);
    for (auto& e : v) e = d(rng);
    return v;
  };
  Params q{rnd(B * T * I), rnd(I * GU), rnd(U * GU), rnd(GU), rnd(GU), rnd(B * U), rnd(B * U)};
  Fixed f{Vec(B * T, 1), Vec(B * GU, 1), Vec(B * p.G() * I, 1)};
  if (p.use_mask)
    for (auto& m : f.mask) m = (rng() % 3 == 0) ? 0 : 1;
  if (p.use_rec_mask)
    for (auto& m : f.rec_mask) m = (rng() % 4 == 0) ? 0 : 1.0 / 0.75;
  if (p.use_in_mask)
    for (auto& m : f.in_mask) m = (rng() % 3 == 0) ? 0 : 1.5;
  // Upstream gradients: a random linear function of every output.
  Vec gy = rnd(B * T * U), gyl = rnd(B * U), gh = rnd(B * U), gc = rnd(B * U);
  const bool lstm = p.cell == RnnCell::kLstm;
  auto loss = [&](const Params& qq) {
    Out o = reference(p, qq, f);
    double l = 0;
    for (int64_t i = 0; i < B * T * U; ++i) l += o.y[i] * gy[i];
    for (int64_t b = 0; b < B; ++b)
      for (int64_t u = 0; u < U; ++u) {
        l += o.y[(b * T + T - 1) * U + u] * gyl[b * U + u] + o.h[b * U + u] * gh[b * U + u];
        if (lstm) l += o.c[b * U + u] * gc[b * U + u];
      }
    return l;
  };

  auto x = to_f(q.x), w = to_f(q.w), r = to_f(q.r), bb = to_f(q.b), rb = to_f(q.rb);
  auto h0 = to_f(q.h0), c0 = to_f(q.c0), mask = to_f(f.mask), rmask = to_f(f.rec_mask);
  auto imask = to_f(f.in_mask);
  std::vector<float> y(B * T * U), hl(B * U), cl(B * U), gates(B * T * GU), xh(B * T * (I + U + 1)),
      state(B * T * U, 0.0f), dgates(B * T * GU), dgr(B * T * GU);
  RnnArgs a;
  a.cell = p.cell;
  a.act = p.act;
  a.rec_act = p.rec_act;
  a.batch = B, a.steps = T, a.in = I, a.units = U;
  a.reverse = p.reverse;
  a.zero_masked_outputs = p.zero_out;
  a.x = x.data(), a.w = w.data(), a.r = r.data(), a.b = bb.data();
  a.rb = p.cell == RnnCell::kGruResetAfter ? rb.data() : nullptr;
  if (p.use_h0) a.h0 = h0.data(), a.c0 = c0.data();
  if (p.use_mask) a.mask = mask.data();
  if (p.use_rec_mask) a.rec_mask = rmask.data();
  if (p.use_in_mask) a.in_mask = imask.data();
  a.y = y.data(), a.h_last = hl.data(), a.c_last = lstm ? cl.data() : nullptr;
  a.gates = gates.data(), a.xh = xh.data(), a.state = state.data();
  rnn_forward(a);

  Out ref = reference(p, q, f);
  for (int64_t i = 0; i < B * T * U; ++i) ASSERT_NEAR(y[i], ref.y[i], 2e-5) << "y[" << i << "]";
  for (int64_t i = 0; i < B * U; ++i) {
    ASSERT_NEAR(hl[i], ref.h[i], 2e-5) << "h_last[" << i << "]";
    if (lstm) {
      ASSERT_NEAR(cl[i], ref.c[i], 2e-5) << "c_last[" << i << "]";
    }
  }

  auto fy = to_f(gy), fyl = to_f(gyl), fh = to_f(gh), fc = to_f(gc);
  std::vector<float> dx(B * T * I), dw(I * GU), dr(U * GU), db(GU), drb(GU), dh0(B * U), dc0(B * U);
  a.dy = fy.data(), a.dy_last = fyl.data(), a.dh_last = fh.data();
  a.dc_last = lstm ? fc.data() : nullptr;
  a.dx = dx.data(), a.dw = dw.data(), a.dr = dr.data(), a.db = db.data();
  a.drb = p.cell == RnnCell::kGruResetAfter ? drb.data() : nullptr;
  a.dh0 = p.use_h0 ? dh0.data() : nullptr;
  a.dc0 = p.use_h0 && lstm ? dc0.data() : nullptr;
  a.dgates = dgates.data(), a.dgates_rec = dgr.data();
  rnn_backward(a);

  auto check_grad = [&](const char* name, Vec Params::* field, const std::vector<float>& got) {
    Params qq = q;
    Vec& v = qq.*field;
    for (size_t i = 0; i < v.size(); ++i) {
      const double keep = v[i], eps = 1e-6;
      v[i] = keep + eps;
      const double lp = loss(qq);
      v[i] = keep - eps;
      const double lm = loss(qq);
      v[i] = keep;
      const double num = (lp - lm) / (2 * eps);
      ASSERT_NEAR(got[i], num, 2e-4 * (1 + std::fabs(num))) << name << "[" << i << "]";
    }
  };
  check_grad("dx", &Params::x, dx);
  check_grad("dw", &Params::w, dw);
  check_grad("dr", &Params::r, dr);
  check_grad("db", &Params::b, db);
  if (p.cell == RnnCell::kGruResetAfter) check_grad("drb", &Params::rb, drb);
  if (p.use_h0) {
    check_grad("dh0", &Params::h0, dh0);
    if (lstm) check_grad("dc0", &Params::c0, dc0);
  }

  // SimpleRNN/LSTM may write the gate gradients over the gates: the same gradients.
  if (p.cell == RnnCell::kSimple || lstm) {
    std::vector<float> dx2(dx.size()), dw2(dw.size()), dr2(dr.size()), db2(db.size());
    std::vector<float> dh02(dh0.size()), dc02(dc0.size());
    RnnArgs b = a;
    b.dx = dx2.data(), b.dw = dw2.data(), b.dr = dr2.data(), b.db = db2.data();
    b.dh0 = a.dh0 ? dh02.data() : nullptr;
    b.dc0 = a.dc0 ? dc02.data() : nullptr;
    b.dgates = gates.data();
    rnn_backward(b);
    auto same = [](const char* name, const std::vector<float>& want,
                   const std::vector<float>& got) {
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-6 * (1 + std::fabs(want[i]))) << name << "[" << i << "]";
    };
    same("in place dx", dx, dx2);
    same("in place dw", dw, dw2);
    same("in place dr", dr, dr2);
    same("in place db", db, db2);
    if (a.dh0) same("in place dh0", dh0, dh02);
    if (a.dc0) same("in place dc0", dc0, dc02);
  }
}

const RnnCell kCells[] = {RnnCell::kSimple, RnnCell::kLstm, RnnCell::kGru, RnnCell::kGruResetAfter};

TEST(RnnKernel, PlainSequencesMatchReference) {
  uint32_t seed = 1;
  for (RnnCell cell : kCells) {
    run_case({cell, RnnActivation::kTanh, RnnActivation::kSigmoid, 1, 1, 1, 1}, seed++);
    run_case({cell, RnnActivation::kTanh, RnnActivation::kSigmoid, 3, 5, 7, 5}, seed++);
    run_case({cell, RnnActivation::kTanh, RnnActivation::kSigmoid, 13, 4, 3, 17}, seed++);
  }
}

// The activation and LSTM-backward loops have a portable build and AVX2/AVX-512 builds, picked
// by the GEMM's ISA: every supported one must match the reference.
TEST(RnnKernel, EveryIsaMatchesReference) {
  const Isa saved = gemm_isa();
  uint32_t seed = 50;
  for (Isa isa : supported_isas()) {
    set_gemm_isa(isa);
    for (RnnCell cell : kCells) {
      run_case({cell, RnnActivation::kTanh, RnnActivation::kSigmoid, 3, 4, 3, 17}, seed++);
      Problem p{cell, RnnActivation::kTanh, RnnActivation::kSigmoid, 2, 3, 2, 9};
      p.use_mask = true;
      p.use_h0 = true;
      run_case(p, seed++);
    }
  }
  set_gemm_isa(saved);
}

TEST(RnnKernel, MasksReverseInitialStateAndRecurrentDropout) {
  uint32_t seed = 100;
  for (RnnCell cell : kCells)
    for (bool reverse : {false, true})
      for (bool zero_out : {false, true}) {
        Problem p{cell, RnnActivation::kTanh, RnnActivation::kSigmoid, 5, 6, 3, 4};
        p.reverse = reverse;
        p.zero_out = zero_out;
        p.use_mask = true;
        p.use_h0 = true;
        p.use_rec_mask = zero_out;  // half the cases with recurrent dropout
        run_case(p, seed++);
      }
}

TEST(RnnKernel, OneDropoutMaskPerGate) {
  // Input and recurrent dropout with a different mask for every gate (Keras's LSTM/GRU draw
  // one per gate when recurrent_dropout > 0), alone and together, threads splitting the batch.
  uint32_t seed = 300;
  for (RnnCell cell : kCells)
    for (int which = 0; which < 3; ++which) {
      Problem p{cell, RnnActivation::kTanh, RnnActivation::kSigmoid, 6, 5, 4, 3};
      p.use_in_mask = which != 1;
      p.use_rec_mask = which != 0;
      p.use_mask = which == 2;
      p.use_h0 = true;
      p.reverse = which == 1;
      run_case(p, seed++);
    }
}

TEST(RnnKernel, OtherActivations) {
  uint32_t seed = 200;
  for (RnnCell cell : kCells) {
    run_case({cell, RnnActivation::kRelu, RnnActivation::kHardSigmoid, 4, 3, 2, 3}, seed++);
    run_case({cell, RnnActivation::kLinear, RnnActivation::kTanh, 2, 3, 5, 6}, seed++);
  }
}

TEST(RnnKernel, ThreadCountDoesNotChangeResults) {
  // Large enough to split the batch over threads; compare 1 thread with the default.
  Problem p{RnnCell::kLstm, RnnActivation::kTanh, RnnActivation::kSigmoid, 37, 6, 9, 33};
  const int64_t GU = p.GU();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-0.5f, 0.5f);
  std::vector<float> x(p.B * p.T * p.I), w(p.I * GU), r(p.U * GU);
  for (auto* v : {&x, &w, &r})
    for (auto& e : *v) e = d(rng);
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> y(p.B * p.T * p.U), gates(p.B * p.T * GU), xh(p.B * p.T * (p.I + p.U + 1)),
        state(p.B * p.T * p.U);
    RnnArgs a;
    a.cell = p.cell;
    a.batch = p.B, a.steps = p.T, a.in = p.I, a.units = p.U;
    a.x = x.data(), a.w = w.data(), a.r = r.data();
    a.y = y.data(), a.gates = gates.data(), a.xh = xh.data(), a.state = state.data();
    rnn_forward(a);
    return y;
  };
  auto one = run(1), many = run(0);
  set_num_threads(0);
  for (size_t i = 0; i < one.size(); ++i) ASSERT_NEAR(one[i], many[i], 1e-6);
}

TEST(RnnKernel, EmptySequenceKeepsInitialState) {
  std::vector<float> x(1), w(2 * 4), r(4), h0 = {0.5f, -1.0f}, hl(2), y(1), g(1), hp(1);
  RnnArgs a;
  a.cell = RnnCell::kSimple;
  a.batch = 2, a.steps = 0, a.in = 2, a.units = 1;
  a.x = x.data(), a.w = w.data(), a.r = r.data(), a.h0 = h0.data();
  a.y = y.data(), a.h_last = hl.data(), a.gates = g.data(), a.xh = hp.data();
  rnn_forward(a);
  EXPECT_EQ(hl[0], 0.5f);
  EXPECT_EQ(hl[1], -1.0f);
}

TEST(RnnKernel, LastOutputAloneMatchesTheLastOfAllOutputs) {
  // y = null with y_last: only the last step's output is written (return_sequences=False),
  // including a masked last step that repeats the previous output or gives zeros.
  const int64_t B = 3, T = 5, I = 2, U = 4, GU = 4 * U;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-0.8f, 0.8f);
  auto randv = [&](int64_t n) {
    std::vector<float> v(n);
    for (auto& e : v) e = dist(rng);
    return v;
  };
  auto x = randv(B * T * I), w = randv(I * GU), r = randv(U * GU), b = randv(GU);
  std::vector<float> mask = {1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1};  // row 1 ends masked
  for (bool reverse : {false, true}) {
    for (bool zero_out : {false, true}) {
      std::vector<float> y(B * T * U), last(B * U, -7.0f), hl(B * U), cl(B * U);
      std::vector<float> gates(B * T * GU), xh(B * T * (I + U + 1)), state(B * T * U);
      RnnArgs a;
      a.cell = RnnCell::kLstm;
      a.batch = B, a.steps = T, a.in = I, a.units = U;
      a.reverse = reverse, a.zero_masked_outputs = zero_out;
      a.x = x.data(), a.w = w.data(), a.r = r.data(), a.b = b.data(), a.mask = mask.data();
      a.h_last = hl.data(), a.c_last = cl.data();
      a.gates = gates.data(), a.xh = xh.data(), a.state = state.data();
      a.y = y.data();
      rnn_forward(a);
      a.y = nullptr;
      a.y_last = last.data();
      rnn_forward(a);
      for (int64_t i = 0; i < B; ++i)
        for (int64_t u = 0; u < U; ++u)
          EXPECT_EQ(last[i * U + u], y[(i * T + T - 1) * U + u])
              << "row " << i << " reverse=" << reverse << " zero_out=" << zero_out;
    }
  }
}

TEST(RnnKernel, NaNInputGivesNaNOutputsForThatSequenceOnly) {
  // As in Keras, a NaN reaching a cell's pre-activations is not clamped into a finite gate: the
  // sequence that holds it gets NaN outputs and state, the other rows of the batch stay finite.
  // Every cell, the default and other activations, on every ISA.
  const Isa saved = gemm_isa();
  const int64_t B = 3, T = 4, I = 3, U = 17;
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> dist(-0.8f, 0.8f);
  for (Isa isa : supported_isas()) {
    set_gemm_isa(isa);
    for (RnnCell cell : kCells) {
      for (RnnActivation rec_act :
           {RnnActivation::kSigmoid, RnnActivation::kTanh, RnnActivation::kHardSigmoid}) {
        const int64_t GU = rnn_gate_count(cell) * U;
        auto randv = [&](int64_t n) {
          std::vector<float> v(n);
          for (auto& e : v) e = dist(rng);
          return v;
        };
        auto x = randv(B * T * I), w = randv(I * GU), r = randv(U * GU), b = randv(GU);
        auto rb = randv(GU);
        x[(1 * T + 2) * I + 1] = std::numeric_limits<float>::quiet_NaN();  // sequence 1, step 2
        std::vector<float> y(B * T * U), hl(B * U), gates(B * T * GU), xh(B * T * (I + U + 1));
        std::vector<float> state(B * T * U);
        RnnArgs a;
        a.cell = cell;
        a.rec_act = rec_act;
        a.batch = B, a.steps = T, a.in = I, a.units = U;
        a.x = x.data(), a.w = w.data(), a.r = r.data(), a.b = b.data();
        a.rb = cell == RnnCell::kGruResetAfter ? rb.data() : nullptr;
        a.y = y.data(), a.h_last = hl.data();
        a.gates = gates.data(), a.xh = xh.data(), a.state = state.data();
        rnn_forward(a);
        // Every activated gate of sequence 1 at step 2 (time-major row 2 * B + 1) is NaN.
        for (int64_t j = 0; j < GU; ++j) {
          EXPECT_TRUE(std::isnan(gates[(2 * B + 1) * GU + j]))
              << isa_name(isa) << " cell " << static_cast<int>(cell) << " gate column " << j;
        }
        for (int64_t i = 0; i < B; ++i)
          for (int64_t u = 0; u < U; ++u) {
            const std::string where = std::string(isa_name(isa)) + " cell " +
                                      std::to_string(static_cast<int>(cell)) + " row " +
                                      std::to_string(i) + " unit " + std::to_string(u);
            EXPECT_EQ(std::isnan(hl[i * U + u]), i == 1) << where;
            EXPECT_TRUE(std::isfinite(y[(i * T + 1) * U + u])) << where;  // before the NaN
          }
      }
    }
  }
  set_gemm_isa(saved);
}

TEST(RnnKernel, MissingWorkspaceThrows) {
  RnnArgs a;
  a.cell = RnnCell::kLstm;
  a.batch = 1, a.steps = 1, a.in = 1, a.units = 1;
  EXPECT_THROW(rnn_forward(a), std::invalid_argument);
}

TEST(RnnKernel, GruGateGradientsCannotOverwriteGates) {
  std::vector<float> x(2 * 3 * 2), w(2 * 6), r(2 * 6), y(2 * 3 * 2), g(2 * 3 * 6), xh(2 * 3 * 5),
      st(2 * 3 * 2), dw(2 * 6);
  RnnArgs a;
  a.cell = RnnCell::kGru;
  a.batch = 2, a.steps = 3, a.in = 2, a.units = 2;
  a.x = x.data(), a.w = w.data(), a.r = r.data(), a.y = y.data();
  a.gates = g.data(), a.xh = xh.data(), a.state = st.data();
  rnn_forward(a);
  a.dw = dw.data();
  a.dgates = g.data();
  EXPECT_THROW(rnn_backward(a), std::invalid_argument);
}

}  // namespace
}  // namespace fastkeras
