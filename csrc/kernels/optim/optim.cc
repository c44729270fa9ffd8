#include "kernels/optim/optim.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "kernels/optim/adam_rows.h"
#include "kernels/optim/chunks.h"
#include "kernels/parallel.h"

// The update rules must round after every operation, as Keras's separate tensor ops do, so no
// fused multiply-adds: x86-64 builds without -mfma have none to contract into; elsewhere the
// compiler is asked not to contract.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__) && !defined(__x86_64__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace fastkeras::optim {
namespace {

// Runs fn(begin, end, sums) over fixed blocks of [0, n), where fn adds K partial sums of its
// block into sums[0..K); the blocks' sums are then added in block order, so the totals do not
// depend on the thread count.
template <int K, typename Fn>
std::array<double, K> blocked_sums(int64_t n, double flops_per_element, Fn&& fn) {
  std::array<double, K> total{};
  if (n <= 0) return total;
  const int64_t blocks = (n + kGrain - 1) / kGrain;
  std::vector<std::array<double, K>> partial(static_cast<size_t>(blocks));
  const int threads = threads_for(flops_per_element * static_cast<double>(n), blocks);
  const int64_t blocks_per_thread = (blocks + threads - 1) / threads;
  run_parallel(threads, [&](int t) {
    const int64_t first = t * blocks_per_thread;
    const int64_t last = std::min(blocks, first + blocks_per_thread);
    for (int64_t blk = first; blk < last; ++blk) {
      std::array<double, K>& s = partial[static_cast<size_t>(blk)];
      s.fill(0.0);
      fn(blk * kGrain, std::min(n, (blk + 1) * kGrain), s.data());
    }
  });
  for (const auto& s : partial) {
    for (int k = 0; k < K; ++k) total[k] += s[k];
  }
  return total;
}

// x^p for the FTRL accumulators; p == 0.5 (the default) is a correctly rounded square root.
inline float ftrl_pow(float x, float p) {
  if (p == 0.5f) return std::sqrt(x);
  if (p == 1.0f) return x;
  return std::pow(x, p);
}

void adam_rows_portable(float* var, const float* grad, float* m, float* v, float* velocity_hat,
                        int64_t begin, int64_t end, const AdamParams& p) {
  adam_rows_impl(var, grad, m, v, velocity_hat, begin, end, p);
}

}  // namespace

void sgd_update(float* var, const float* grad, float* momentum, int64_t n, const SgdParams& p) {
  const float lr = p.learning_rate;
  const float mu = p.momentum;
  if (momentum == nullptr) {
    for_chunks(n, 2.0, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) var[i] = var[i] - grad[i] * lr;
    });
  } else if (!p.nesterov) {
    for_chunks(n, 4.0, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float m = momentum[i] * mu - grad[i] * lr;
        momentum[i] = m;
        var[i] = var[i] + m;
      }
    });
  } else {
    for_chunks(n, 7.0, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float g_lr = grad[i] * lr;
        const float m = momentum[i] * mu - g_lr;
        momentum[i] = m;
        var[i] = var[i] + (m * mu - g_lr);
      }
    });
  }
}

void adam_update(float* var, const float* grad, float* m, float* v, float* velocity_hat, int64_t n,
                 const AdamParams& p) {
  // The loop on the widest vectors the CPU has (the same roundings: no contraction).
  auto fn = adam_rows_portable;
#if defined(FASTKERAS_X86)
  if (gemm_isa() == Isa::kAvx512) fn = adam_rows_avx512;
  if (gemm_isa() == Isa::kAvx2) fn = adam_rows_avx2;
#endif
  for_chunks(n, velocity_hat ? 15.0 : 14.0,
             [=](int64_t b, int64_t e) { fn(var, grad, m, v, velocity_hat, b, e, p); });
}

void rmsprop_update(float* var, const float* grad, float* velocity, float* momentum,
                    float* average_grad, int64_t n, const RmspropParams& p) {
  const float lr = p.learning_rate, rho = p.rho, c = p.one_minus_rho, mu = p.momentum;
  const float eps = p.epsilon;
  // The four variants differ only in the denominator and in how the increment is applied;
  // each gets its own loop so the inner loop has no branches.
  auto run = [&](auto centered_tag, auto momentum_tag) {
    constexpr bool kCentered = decltype(centered_tag)::value;
    constexpr bool kMomentum = decltype(momentum_tag)::value;
    for_chunks(n, 14.0, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float g = grad[i];
        const float vel = rho * velocity[i] + c * (g * g);
        velocity[i] = vel;
        float denom;
        if constexpr (kCentered) {
          const float avg = rho * average_grad[i] + c * g;
          average_grad[i] = avg;
          denom = (vel - avg * avg) + eps;
        } else {
          denom = vel + eps;
        }
        const float inc = (lr * g) / std::sqrt(denom);
        if constexpr (kMomentum) {
          const float mom = mu * momentum[i] + inc;
          momentum[i] = mom;
          var[i] = var[i] - mom;
        } else {
          var[i] = var[i] - inc;
        }
      }
    });
  };
  using Yes = std::true_type;
  using No = std::false_type;
  const bool centered = average_grad != nullptr, with_momentum = momentum != nullptr;
  if (centered && with_momentum)
    run(Yes{}, Yes{});
  else if (centered)
    run(Yes{}, No{});
  else if (with_momentum)
    run(No{}, Yes{});
  else
    run(No{}, No{});
}

void adadelta_update(float* var, const float* grad, float* accumulated_grad,
                     float* accumulated_delta_var, int64_t n, const AdadeltaParams& p) {
  const float lr = p.learning_rate, rho = p.rho, c = p.one_minus_rho, eps = p.epsilon;
  for_chunks(n, 18.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = grad[i];
      const float ag = rho * accumulated_grad[i] + c * (g * g);
      accumulated_grad[i] = ag;
      const float delta = -((std::sqrt(accumulated_delta_var[i] + eps) * g) / std::sqrt(ag + eps));
      accumulated_delta_var[i] = rho * accumulated_delta_var[i] + c * (delta * delta);
      var[i] = var[i] + lr * delta;
    }
  });
}

void adagrad_update(float* var, const float* grad, float* accumulator, int64_t n,
                    const AdagradParams& p) {
  const float lr = p.learning_rate, eps = p.epsilon;
  for_chunks(n, 8.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = grad[i];
      const float acc = accumulator[i] + g * g;
      accumulator[i] = acc;
      var[i] = var[i] - (lr * g) / std::sqrt(acc + eps);
    }
  });
}

void adamax_update(float* var, const float* grad, float* m, float* u, int64_t n,
                   const AdamaxParams& p) {
  const float lr = p.learning_rate, c1 = p.one_minus_beta_1, b2 = p.beta_2;
  const float bias = p.one_minus_beta_1_power, eps = p.epsilon;
  for_chunks(n, 12.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = grad[i];
      const float mi = m[i] + (g - m[i]) * c1;
      const float ui = std::max(b2 * u[i], std::fabs(g));
      m[i] = mi;
      u[i] = ui;
      var[i] = var[i] - (lr * mi) / (bias * (ui + eps));
    }
  });
}

void nadam_update(float* var, const float* grad, float* m, float* v, int64_t n,
                  const NadamParams& p) {
  const NadamParams q = p;
  for_chunks(n, 20.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = grad[i];
      const float mi = m[i] + (g - m[i]) * q.one_minus_beta_1;
      const float vi = v[i] + (g * g - v[i]) * q.one_minus_beta_2;
      m[i] = mi;
      v[i] = vi;
      const float m_hat = (q.u_next * mi) / q.one_minus_u_product_next +
                          (q.one_minus_u * g) / q.one_minus_u_product;
      const float v_hat = vi / q.one_minus_beta_2_power;
      var[i] = var[i] - (m_hat * q.learning_rate) / (std::sqrt(v_hat) + q.epsilon);
    }
  });
}

void lion_update(float* var, const float* grad, float* m, int64_t n, const LionParams& p) {
  const LionParams q = p;
  for_chunks(n, 10.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = grad[i];
      const float c = m[i] * q.beta_1 + g * q.one_minus_beta_1;
      const float sign = c > 0.0f ? 1.0f : (c < 0.0f ? -1.0f : (c == 0.0f ? 0.0f : c));
      var[i] = var[i] - sign * q.learning_rate;
      m[i] = m[i] * q.beta_2 + g * q.one_minus_beta_2;
    }
  });
}

void ftrl_update(float* var, const float* grad, float* accumulator, float* linear, int64_t n,
                 const FtrlParams& p) {
  const FtrlParams q = p;
  for_chunks(n, 40.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = grad[i], w = var[i], acc = accumulator[i];
      const float g2 = g + q.two_l2_shrinkage * w;
      const float acc_new = acc + g * g;
      const float pow_new = ftrl_pow(acc_new, q.power);
      const float pow_old = ftrl_pow(acc, q.power);
      const float lin = linear[i] + (g2 - ((pow_new - pow_old) / q.learning_rate) * w);
      linear[i] = lin;
      const float quadratic = pow_new / q.learning_rate + q.two_l2;
      const float clipped = std::min(std::max(lin, -q.l1), q.l1);
      var[i] = (clipped - lin) / quadratic;
      accumulator[i] = acc_new;
    }
  });
}

void lamb_update(float* var, const float* grad, float* m, float* v, int64_t n,
                 const LambParams& p) {
  if (n <= 0) return;
  const LambParams q = p;
  std::vector<float> update(static_cast<size_t>(n));
  float* u = update.data();
  // Pass 1: the moments, the unscaled update, and the two sums of squares.
  const auto sums = blocked_sums<2>(n, 20.0, [=](int64_t b, int64_t e, double* s) {
    for (int64_t i = b; i < e; ++i) {
      const float g = grad[i];
      const float mi = m[i] + (g - m[i]) * q.one_minus_beta_1;
      const float vi = v[i] + (g * g - v[i]) * q.one_minus_beta_2;
      m[i] = mi;
      v[i] = vi;
      const float ui =
          (mi / q.one_minus_beta_1_power) / (std::sqrt(vi / q.one_minus_beta_2_power) + q.epsilon);
      u[i] = ui;
      const double w = var[i], ud = ui;
      s[0] += w * w;
      s[1] += ud * ud;
    }
  });
  const float w_norm = std::sqrt(static_cast<float>(sums[0]));
  const float u_norm = std::sqrt(static_cast<float>(sums[1]));
  const float ratio = (w_norm > 0.0f && u_norm > 0.0f) ? w_norm / u_norm : 1.0f;
  const float scale = ratio * q.learning_rate;
  // Pass 2: the step.
  for_chunks(n, 2.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) var[i] = var[i] - scale * u[i];
  });
}

void adafactor_update(float* var, const float* grad, float* row_stats, float* col_stats, float* v,
                      int64_t batch, int64_t rows, int64_t cols, const AdafactorParams& p) {
  const int64_t n = batch * rows * cols;
  if (n <= 0) return;
  const AdafactorParams q = p;
  const double dn = static_cast<double>(n);
  // rms of the variable before the update.
  const auto var_sq = blocked_sums<1>(n, 2.0, [=](int64_t b, int64_t e, double* s) {
    for (int64_t i = b; i < e; ++i) {
      const double w = var[i];
      s[0] += w * w;
    }
  });
  const float var_rms = std::sqrt(static_cast<float>(var_sq[0] / dn));
  const float alpha = std::max(q.epsilon_2, var_rms) * q.rho;

  if (row_stats != nullptr && col_stats != nullptr) {
    // Factored second moments: row and column means of grad^2 + epsilon_1 per batch entry.
    std::vector<double> col_sum(static_cast<size_t>(cols));
    for (int64_t bt = 0; bt < batch; ++bt) {
      const float* gb = grad + bt * rows * cols;
      float* r = row_stats + bt * rows;
      float* c = col_stats + bt * cols;
      std::fill(col_sum.begin(), col_sum.end(), 0.0);
      for (int64_t i = 0; i < rows; ++i) {
        double row_sum = 0.0;
        for (int64_t j = 0; j < cols; ++j) {
          const float g = gb[i * cols + j];
          const double s = static_cast<double>(g * g + q.epsilon_1);
          row_sum += s;
          col_sum[static_cast<size_t>(j)] += s;
        }
        const float mean = static_cast<float>(row_sum / static_cast<double>(cols));
        r[i] = q.beta_2_t * r[i] + q.one_minus_beta_2_t * mean;
      }
      for (int64_t j = 0; j < cols; ++j) {
        const float mean =
            static_cast<float>(col_sum[static_cast<size_t>(j)] / static_cast<double>(rows));
        c[j] = q.beta_2_t * c[j] + q.one_minus_beta_2_t * mean;
      }
      double r_sum = 0.0;
      for (int64_t i = 0; i < rows; ++i) r_sum += r[i];
      const float r_mean = static_cast<float>(r_sum / static_cast<double>(rows));
      float* vb = v + bt * rows * cols;
      for (int64_t i = 0; i < rows; ++i) {
        const float ri = r[i] / r_mean;
        for (int64_t j = 0; j < cols; ++j) vb[i * cols + j] = ri * c[j];
      }
    }
  } else {
    for_chunks(n, 5.0, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float g = grad[i];
        v[i] = q.beta_2_t * v[i] + q.one_minus_beta_2_t * (g * g + q.epsilon_1);
      }
    });
  }

  // rms of u = grad / sqrt(v), then the clipped step (u recomputed: the same float values).
  const auto u_sq = blocked_sums<1>(n, 4.0, [=](int64_t b, int64_t e, double* s) {
    for (int64_t i = b; i < e; ++i) {
      const double u = grad[i] / std::sqrt(v[i]);
      s[0] += u * u;
    }
  });
  const float u_rms = std::sqrt(static_cast<float>(u_sq[0] / dn));
  const float denom = std::max(1.0f, u_rms / q.clip_threshold);
  for_chunks(n, 5.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float u = grad[i] / std::sqrt(v[i]);
      var[i] = var[i] - alpha * (u / denom);
    }
  });
}

void decay_weights(float* var, int64_t n, float weight_decay, float learning_rate) {
  const float wd = weight_decay, lr = learning_rate;
  for_chunks(n, 3.0, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) var[i] = var[i] - (var[i] * wd) * lr;
  });
}

double sum_squares(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
  // Fixed blocks, each summed on its own, then added in block order: the result is the same
  // for any number of threads.
  const int64_t blocks = (n + kGrain - 1) / kGrain;
  std::vector<double> partial(static_cast<size_t>(blocks), 0.0);
  const int threads = threads_for(2.0 * static_cast<double>(n), blocks);
  const int64_t blocks_per_thread = (blocks + threads - 1) / threads;
  run_parallel(threads, [&](int t) {
    const int64_t first = t * blocks_per_thread;
    const int64_t last = std::min(blocks, first + blocks_per_thread);
    for (int64_t blk = first; blk < last; ++blk) {
      const int64_t b = blk * kGrain, e = std::min(n, b + kGrain);
      // Four independent accumulators let the loop vectorize without reassociation flags.
      double s[4] = {0.0, 0.0, 0.0, 0.0};
      int64_t i = b;
      for (; i + 4 <= e; i += 4) {
        for (int k = 0; k < 4; ++k) {
          const double v = x[i + k];
          s[k] += v * v;
        }
      }
      for (; i < e; ++i) {
        const double v = x[i];
        s[0] += v * v;
      }
      partial[static_cast<size_t>(blk)] = (s[0] + s[1]) + (s[2] + s[3]);
    }
  });
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace fastkeras::optim
