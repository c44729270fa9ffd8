// The recurrent cells' activation and LSTM backward loops (kernels/rnn/rnn_act.h) compiled with AVX2+FMA
// flags; rnn.cc calls this when the GEMM runs on that ISA.
#include "kernels/rnn/rnn_act.h"

namespace fastkeras {

void rnn_apply_act_avx2(RnnActivation act, float* v, int64_t n) { apply_act_impl(act, v, n); }

void rnn_lstm_backward_row_avx2(const float* g, const float* tc, const float* cp, float* dc,
                                float* dh, float* dg, int64_t U) {
  lstm_backward_row_impl(g, tc, cp, dc, dh, dg, U);
}

}  // namespace fastkeras
