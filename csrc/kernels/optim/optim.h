// In-place optimizer updates on float32 arrays of n elements.
//
// Each kernel applies one optimizer step to one variable: it reads the gradient and rewrites the
// variable and its slot arrays (momentums, velocities, accumulators). The element-wise arithmetic
// is float32 and follows Keras 3's update rules operation by operation (same operand order, true
// divisions and square roots, no reciprocal shortcuts), so a run matches Keras's to rounding.
// Scalars that depend only on the step (bias corrections and the like) are computed by the
// caller and passed in the parameter structs, already rounded to float32.
//
// Large arrays are split into chunks run on several threads (see kernels/parallel.h); every
// element is updated by exactly one thread, so results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace fastkeras::optim {

// SGD. Without momentum buffer:  var -= grad * lr.
// With one (`momentum` != nullptr):
//   m = m * mu - grad * lr
//   var += m                          (nesterov == false)
//   var += m * mu - grad * lr         (nesterov == true)
struct SgdParams {
  float learning_rate;
  float momentum;  // mu
  bool nesterov;
};
void sgd_update(float* var, const float* grad, float* momentum, int64_t n, const SgdParams& p);

// Adam (and AdamW, whose decay is applied separately by decay_weights):
//   m += (grad - m) * one_minus_beta_1
//   v += (grad^2 - v) * one_minus_beta_2
//   vhat = max(vhat, v); v_used = vhat   (amsgrad: velocity_hat != nullptr)
//   var -= (m * alpha) / (sqrt(v_used) + epsilon)
// where alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) is computed by the caller.
struct AdamParams {
  float alpha;
  float one_minus_beta_1;
  float one_minus_beta_2;
  float epsilon;
};
void adam_update(float* var, const float* grad, float* m, float* v, float* velocity_hat, int64_t n,
                 const AdamParams& p);

// RMSprop:
//   vel = rho * vel + one_minus_rho * grad^2
//   centered (average_grad != nullptr):
//     avg = rho * avg + one_minus_rho * grad;  denom = (vel - avg^2) + epsilon
//   else denom = vel + epsilon
//   inc = (lr * grad) / sqrt(denom)
//   with a momentum buffer (momentum != nullptr): mom = mu * mom + inc; var -= mom
//   else var -= inc
struct RmspropParams {
  float learning_rate;
  float rho;
  float one_minus_rho;
  float momentum;  // mu
  float epsilon;
};
void rmsprop_update(float* var, const float* grad, float* velocity, float* momentum,
                    float* average_grad, int64_t n, const RmspropParams& p);

// Adadelta:
//   acc_g = rho * acc_g + one_minus_rho * grad^2
//   delta = -((sqrt(acc_d + eps) * grad) / sqrt(acc_g + eps))
//   acc_d = rho * acc_d + one_minus_rho * delta^2
//   var += lr * delta
struct AdadeltaParams {
  float learning_rate;
  float rho;
  float one_minus_rho;
  float epsilon;
};
void adadelta_update(float* var, const float* grad, float* accumulated_grad,
                     float* accumulated_delta_var, int64_t n, const AdadeltaParams& p);

// Adagrad:
//   acc += grad^2
//   var -= (lr * grad) / sqrt(acc + epsilon)
struct AdagradParams {
  float learning_rate;
  float epsilon;
};
void adagrad_update(float* var, const float* grad, float* accumulator, int64_t n,
                    const AdagradParams& p);

// Adamax:
//   m += (grad - m) * one_minus_beta_1
//   u = max(beta_2 * u, |grad|)
//   var -= (lr * m) / (one_minus_beta_1_power * (u + epsilon))
struct AdamaxParams {
  float learning_rate;
  float one_minus_beta_1;
  float beta_2;
  float one_minus_beta_1_power;  // 1 - beta_1^t
  float epsilon;
};
void adamax_update(float* var, const float* grad, float* m, float* u, int64_t n,
                   const AdamaxParams& p);

// Nadam:
//   m += (grad - m) * one_minus_beta_1
//   v += (grad^2 - v) * one_minus_beta_2
//   m_hat = (u_next * m) / one_minus_u_product_next + (one_minus_u * grad) / one_minus_u_product
//   v_hat = v / one_minus_beta_2_power
//   var -= (m_hat * lr) / (sqrt(v_hat) + epsilon)
struct NadamParams {
  float learning_rate;
  float one_minus_beta_1;
  float one_minus_beta_2;
  float u_next;                    // u_{t+1}
  float one_minus_u_product_next;  // 1 - u_product_t * u_{t+1}
  float one_minus_u;               // 1 - u_t
  float one_minus_u_product;       // 1 - u_product_t
  float one_minus_beta_2_power;    // 1 - beta_2^t
  float epsilon;
};
void nadam_update(float* var, const float* grad, float* m, float* v, int64_t n,
                  const NadamParams& p);

// Decoupled weight decay as Keras applies it before the update: var -= (var * wd) * lr.
void decay_weights(float* var, int64_t n, float weight_decay, float learning_rate);

// Sum of squares of x, accumulated in double (for gradient-norm clipping). Deterministic: the
// per-chunk partial sums are combined in a fixed order whatever the thread count.
double sum_squares(const float* x, int64_t n);

}  // namespace fastkeras::optim
