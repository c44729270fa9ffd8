// Update kernels for Muon and Schedule-Free AdamW (Keras 3's keras.optimizers.Muon and
// keras.optimizers.ScheduleFreeAdamW), with the same conventions as kernels/optim/optim.h:
// float32 arrays updated in place, one rounding per operation in Keras's operand order, and
// step-dependent scalars computed (and rounded to float32) by the caller.
//
// Muon's AdamW branch (variables that are not 2-D, or excluded by name) is Adam's rule and runs
// on optim::adam_update; its decoupled weight decay on optim::decay_weights.
#pragma once

#include <cstdint>

namespace fastkeras::optim {

// The quintic Newton-Schulz iteration Muon uses to orthogonalise a rows x cols matrix g
// (row-major). When rows > cols the iteration runs on g^T and the result is transposed back,
// so X is always "wide" (m = min(rows, cols) rows). With ||.|| the Frobenius norm:
//   X = X / (||X|| + epsilon)                      (the norm summed in double, rounded to float)
//   repeat `steps` times:
//     A = X X^T;  B = b * A + (c * A) A;  X = a * X + B X
// The three products run on the library's GEMM (kernels/gemm/gemm.h); every element-wise step
// rounds separately, as Keras's separate tensor ops do. `out` (rows x cols) may not alias `g`.
struct NewtonSchulzParams {
  float a;
  float b;
  float c;
  int steps;
  float epsilon;  // added to the norm (Keras: 1e-7)
};
void newton_schulz(const float* g, float* out, int64_t rows, int64_t cols,
                   const NewtonSchulzParams& p);

// Muon's step for a 2-D variable (rows x cols, row-major):
//   m = m + (grad + m * momentum_minus_1)
//   u = grad + momentum * m              (nesterov)    or   u = m
//   o = newton_schulz(u)
//   var -= ((lr * o) * dim_scale) * rms_rate         (adjust: Keras's rms_rate is set)
//   var -= lr * o                                     (otherwise)
// where dim_scale = sqrt(max(rows, cols)) is computed by the caller.
struct MuonParams {
  float learning_rate;
  float momentum;
  float momentum_minus_1;
  bool nesterov;
  NewtonSchulzParams ns;
  bool adjust;
  float dim_scale;
  float rms_rate;
};
void muon_update(float* var, const float* grad, float* m, int64_t rows, int64_t cols,
                 const MuonParams& p);

// Schedule-Free AdamW. `var` holds y (the interpolated point the model evaluates), `z` the
// sequence the gradient steps move (Keras's "momentum" slot), `v` the second-moment estimate:
//   v = v + (grad^2 - v) * one_minus_beta_2
//   z = z - (lr * grad) / (sqrt(v / bias_correction_2) + epsilon)
//   x = (var - one_minus_beta_1 * z') / beta_1
//   x = one_minus_weight * x + weight * z
//   var = one_minus_beta_1 * z + beta_1 * x
// where z' is the *updated* z when `x_from_updated_z` (Keras's torch backend in a normal
// `apply`: it reads the slot through an alias of its storage after updating it in place), and
// the z from before this step otherwise (the same backend's `stateless_apply`, and the paper).
// lr already includes the warm-up factor; weight = 1 / t.
struct ScheduleFreeAdamWParams {
  float learning_rate;
  float one_minus_beta_2;
  float bias_correction_2;  // 1 - beta_2^t
  float epsilon;
  float beta_1;
  float one_minus_beta_1;
  float weight;
  float one_minus_weight;
  bool x_from_updated_z;
};
void schedule_free_adamw_update(float* var, const float* grad, float* z, float* v, int64_t n,
                                const ScheduleFreeAdamWParams& p);

// var *= factor: the decoupled weight decay of Keras's torch optimizers that do not define
// their own (factor = 1 - weight_decay * lr, computed by the caller).
void scale_weights(float* var, int64_t n, float factor);

}  // namespace fastkeras::optim
