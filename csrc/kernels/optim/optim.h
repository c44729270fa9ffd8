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

// Lion (sign of an interpolation of momentum and gradient):
//   c = m * beta_1 + grad * one_minus_beta_1
//   var -= sign(c) * lr                  (sign(0) = 0; a NaN stays NaN)
//   m = m * beta_2 + grad * one_minus_beta_2
struct LionParams {
  float learning_rate;
  float beta_1;
  float one_minus_beta_1;
  float beta_2;
  float one_minus_beta_2;
};
void lion_update(float* var, const float* grad, float* m, int64_t n, const LionParams& p);

// FTRL-proximal. With p = -learning_rate_power (p == 0.5 takes a square root):
//   g2 = grad + two_l2_shrinkage * var
//   acc_new = acc + grad^2
//   linear += g2 - ((acc_new^p - acc^p) / lr) * var
//   quadratic = acc_new^p / lr + two_l2     (two_l2 = 2 * (l2 + beta / (2 * lr)), by the caller)
//   var = (clip(linear, -l1, l1) - linear) / quadratic
//   acc = acc_new
struct FtrlParams {
  float learning_rate;
  float power;  // -learning_rate_power
  float two_l2_shrinkage;
  float l1;
  float two_l2;
};
void ftrl_update(float* var, const float* grad, float* accumulator, float* linear, int64_t n,
                 const FtrlParams& p);

// Lamb: Adam's moments with a per-variable trust ratio.
//   m += (grad - m) * one_minus_beta_1;  v += (grad^2 - v) * one_minus_beta_2
//   u = (m / one_minus_beta_1_power) / (sqrt(v / one_minus_beta_2_power) + epsilon)
//   w_norm = sqrt(sum var^2);  u_norm = sqrt(sum u^2)   (sums in double, norms in float)
//   ratio = w_norm / u_norm if both are > 0, else 1
//   var -= (ratio * lr) * u
// Both sums are reduced here, over fixed blocks combined in order (thread-count independent).
struct LambParams {
  float learning_rate;
  float one_minus_beta_1;
  float one_minus_beta_2;
  float one_minus_beta_1_power;  // 1 - beta_1^t
  float one_minus_beta_2_power;  // 1 - beta_2^t
  float epsilon;
};
void lamb_update(float* var, const float* grad, float* m, float* v, int64_t n, const LambParams& p);

// Adafactor on a variable viewed as [batch, rows, cols] (batch = product of the leading
// dimensions, rows and cols the last two). Factored (row_stats and col_stats not null, for
// variables of rank >= 2), with s = grad^2 + epsilon_1:
//   r[b, i] = beta_2_t * r[b, i] + one_minus_beta_2_t * mean_j s[b, i, j]
//   c[b, j] = beta_2_t * c[b, j] + one_minus_beta_2_t * mean_i s[b, i, j]
//   v[b, i, j] = (r[b, i] / mean_i r[b, i]) * c[b, j]
// Unfactored (row_stats == col_stats == nullptr): v = beta_2_t * v + one_minus_beta_2_t * s.
// Then, with rms(x) = sqrt(mean x^2) (var's rms taken before the update):
//   alpha = max(epsilon_2, rms(var)) * rho;  u = grad / sqrt(v)
//   var -= alpha * (u / max(1, rms(u) / clip_threshold))
// All the means are reduced here in double and rounded to float.
struct AdafactorParams {
  float rho;  // min(lr, 1 / sqrt(t))
  float epsilon_1;
  float epsilon_2;
  float beta_2_t;
  float one_minus_beta_2_t;
  float clip_threshold;
};
void adafactor_update(float* var, const float* grad, float* row_stats, float* col_stats, float* v,
                      int64_t batch, int64_t rows, int64_t cols, const AdafactorParams& p);

// Decoupled weight decay as Keras applies it before the update: var -= (var * wd) * lr.
void decay_weights(float* var, int64_t n, float weight_decay, float learning_rate);

// Sum of squares of x, accumulated in double (for gradient-norm clipping). Deterministic: the
// per-chunk partial sums are combined in a fixed order whatever the thread count.
double sum_squares(const float* x, int64_t n);

}  // namespace fastkeras::optim
