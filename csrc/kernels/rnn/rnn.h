// Recurrent layers (SimpleRNN, LSTM, GRU) over a whole sequence in one call each way.
//
// Forward: the recurrence runs step by step, each step one fused cell pass: one GEMM gives
// that step's gate pre-activations, and the gate nonlinearities and the state update follow on
// the same rows while they are in cache. A SimpleRNN/LSTM without dropout multiplies the row
// [x_t | h_{t-1}] by [w; r] (input projection folded in); GRU and dropout runs instead make
// every timestep's input projection first, as one GEMM, and the step adds the recurrent
// product. Batch rows never interact, so the threads split the batch once and run every
// timestep of their rows without synchronising.
//
// Backward: the same fused pass in reverse gives the gate gradients of every step (kept in
// `dgates`); the weight and input gradients then come from large GEMMs over all timesteps at
// once (one for all three weights when the forward left [x | h | 1] rows in `xh`).
//
// Layouts follow Keras: w (in, G*units), r (units, G*units), gates ordered i,f,c,o (LSTM) and
// z,r,h (GRU). Sequences are (batch, steps, features) row-major. Buffers indexed by time
// (`gates`, `xh`, `state`, `dgates`) are time-major, (steps, batch, ...), and use the real
// time index, so one step's rows are one contiguous block; outputs `y` are in processing
// order (reversed when `reverse`), as Keras's go_backwards returns them.
#pragma once

#include <cstdint>

namespace fastkeras {

enum class RnnCell {
  kSimple,        // h = act(x w + h r + b)
  kLstm,          // Keras LSTM, gates i, f, c, o
  kGru,           // GRU with the reset gate applied before the recurrent product
  kGruResetAfter  // GRU with reset_after=True (Keras's default, separate recurrent bias)
};

enum class RnnActivation { kTanh, kSigmoid, kRelu, kLinear, kHardSigmoid };

// Number of gate blocks G of a cell (the "4" in LSTM's 4*units).
int rnn_gate_count(RnnCell cell);

struct RnnArgs {
  RnnCell cell = RnnCell::kLstm;
  RnnActivation act = RnnActivation::kTanh;
  RnnActivation rec_act = RnnActivation::kSigmoid;
  int64_t batch = 0, steps = 0, in = 0, units = 0;
  bool reverse = false;              // process steps T-1 .. 0 (go_backwards)
  bool zero_masked_outputs = false;  // masked steps output zeros instead of the previous output

  const float* x = nullptr;     // (batch, steps, in)
  const float* w = nullptr;     // (in, G*units)
  const float* r = nullptr;     // (units, G*units)
  const float* b = nullptr;     // (G*units) input bias, or null
  const float* rb = nullptr;    // (G*units) recurrent bias (kGruResetAfter), or null
  const float* h0 = nullptr;    // (batch, units) initial state, or null for zeros
  const float* c0 = nullptr;    // (batch, units) initial carry (LSTM), or null for zeros
  const float* mask = nullptr;  // (batch, steps), 0 = skip the step, or null
  // Dropout multipliers, one mask per gate as Keras draws them (gate block g of a row scales
  // what enters gate g), fixed over time; null = no dropout there.
  const float* in_mask = nullptr;   // (batch, G*in): the input entering each gate, or null
  const float* rec_mask = nullptr;  // (batch, G*units): the state entering each gate's
                                    // recurrent product, or null

  // Forward outputs.
  float* y = nullptr;       // (batch, steps, units) outputs, processing order, or null
  float* y_last = nullptr;  // (batch, units) the last step's output (used when y is null)
  float* h_last = nullptr;  // (batch, units) final state, or null
  float* c_last = nullptr;  // (batch, units) final carry (LSTM), or null

  // Workspace written by the forward pass and read (and partly overwritten) by the backward.
  float* gates = nullptr;  // (steps, batch, G*units): activated gates
  float* xh = nullptr;     // (steps, batch, in + units + 1): each step's row [x_t | h | 1],
                           // h the state the step started from; x_t and the 1 are written
                           // only where the step folds in the input projection (rnn.cc)
  float* state = nullptr;  // (steps, batch, units): LSTM carry c_t, GRU-reset-after's
                           // recurrent candidate part, GRU's r * h; unused by kSimple

  // Backward inputs (any may be null = zero).
  const float* dy = nullptr;       // (batch, steps, units) gradient of y
  const float* dy_last = nullptr;  // (batch, units) gradient of y[:, steps-1]
  const float* dh_last = nullptr;  // (batch, units) gradient of h_last
  const float* dc_last = nullptr;  // (batch, units) gradient of c_last

  // Backward outputs (null = not wanted), written, not accumulated.
  float* dx = nullptr;   // (batch, steps, in)
  float* dw = nullptr;   // (in, G*units)
  float* dr = nullptr;   // (units, G*units)
  float* db = nullptr;   // (G*units)
  float* drb = nullptr;  // (G*units) (kGruResetAfter)
  float* dh0 = nullptr;  // (batch, units)
  float* dc0 = nullptr;  // (batch, units)
  // Workspace (steps, batch, G*units). For SimpleRNN/LSTM it may be `gates` itself: the gate
  // gradients then overwrite the gates, so another backward needs the forward run again.
  float* dgates = nullptr;
  float* dgates_rec = nullptr;  // workspace (steps, batch, G*units), kGruResetAfter only
};

// Runs the recurrence forward; fills y, h_last, c_last and the workspace.
void rnn_forward(const RnnArgs& a);

// Gradients of everything from the workspace of the matching rnn_forward call (same args).
// With rec_mask it allocates a (batch*steps, units) scratch array per call.
void rnn_backward(const RnnArgs& a);

}  // namespace fastkeras
