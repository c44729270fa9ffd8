// The recurrent cells' activation and LSTM forward/backward row loops (kernels/rnn/rnn_act.h)
// compiled with AVX-512 flags; rnn.cc calls this when the GEMM runs on that ISA.
#include "kernels/rnn/rnn_act.h"

namespace fastkeras {

void rnn_apply_act_avx512(RnnActivation act, float* v, int64_t n) { apply_act_impl(act, v, n); }

void rnn_lstm_backward_row_avx512(const float* g, const float* ct, const float* cp, float* dc,
                                  float* dh, float* dg, int64_t U) {
  lstm_backward_row_impl(g, ct, cp, dc, dh, dg, U);
}

void rnn_lstm_backward_row_in_place_avx512(float* g, const float* ct, const float* cp, float* dc,
                                           float* dh, int64_t U) {
  lstm_backward_row_in_place_impl(g, g + U, g + 2 * U, g + 3 * U, ct, cp, dc, dh, U);
}

void rnn_lstm_forward_row_avx512(float* g, float* c, float* cs, float* h, bool keep, int64_t U) {
  lstm_forward_row_impl(g, c, cs, h, keep, U);
}
}  // namespace fastkeras
