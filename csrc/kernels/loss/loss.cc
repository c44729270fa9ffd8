#include "kernels/loss/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/parallel.h"

namespace fastkeras {
namespace {

// Roughly the cost of one element (an exp, a log1p or so, and a few flops): used to decide
// whether splitting the rows over threads pays off.
constexpr double kFlopsPerElement = 30.0;

// Runs fn(i) for every row i in [0, n), splitting the rows over threads when the work is big.
template <typename RowFn>
void for_each_row(int64_t n, int64_t cols, RowFn&& fn) {
  const double work =
      kFlopsPerElement * static_cast<double>(n) * static_cast<double>(std::max<int64_t>(cols, 1));
  const int threads = threads_for(work, n);
  run_parallel(threads, [&](int t) {
    const int64_t lo = n * t / threads;
    const int64_t hi = n * (t + 1) / threads;
    for (int64_t i = lo; i < hi; ++i) fn(i);
  });
}

float row_max(const float* z, int64_t c) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < c; ++j) m = std::max(m, z[j]);
  return m;
}

// Sum of exp(z[j] - m); when `e` is non-null the exponentials are also stored there.
double sum_exp(const float* z, int64_t c, float m, float* e) {
  double s = 0.0;
  if (e != nullptr) {
    for (int64_t j = 0; j < c; ++j) {
      const float v = std::exp(z[j] - m);
      e[j] = v;
      s += v;
    }
  } else {
    for (int64_t j = 0; j < c; ++j) s += std::exp(z[j] - m);
  }
  return s;
}

template <typename Label>
LabelCheck sparse_impl(const float* logits, int64_t n, int64_t c, const Label* labels,
                       bool has_ignore, int64_t ignore_class, const float* scale, float* loss,
                       float* grad) {
  LabelCheck check;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = static_cast<int64_t>(labels[i]);
    if (has_ignore && y == ignore_class) continue;
    if (y < 0 || y >= c) {
      check.bad_row = i;
      check.bad_label = y;
      return check;
    }
  }
  for_each_row(n, c, [&](int64_t i) {
    const float* z = logits + i * c;
    float* g = grad ? grad + i * c : nullptr;
    const int64_t y = static_cast<int64_t>(labels[i]);
    if (has_ignore && y == ignore_class) {
      loss[i] = 0.0f;
      if (g) std::fill(g, g + c, 0.0f);
      return;
    }
    const float m = row_max(z, c);
    const double s = sum_exp(z, c, m, g);
    // logsumexp(z) - z[y], with the max taken out of both terms so huge logits cancel exactly.
    loss[i] = static_cast<float>(std::log(s) - static_cast<double>(z[y] - m));
    if (g) {
      const float k = scale ? scale[i] : 1.0f;
      const float ks = static_cast<float>(k / s);
      for (int64_t j = 0; j < c; ++j) g[j] *= ks;
      g[y] -= k;
    }
  });
  return check;
}

}  // namespace

LabelCheck sparse_softmax_cross_entropy(const float* logits, int64_t n, int64_t c,
                                        const int32_t* labels, bool has_ignore,
                                        int64_t ignore_class, const float* scale, float* loss,
                                        float* grad) {
  return sparse_impl(logits, n, c, labels, has_ignore, ignore_class, scale, loss, grad);
}

LabelCheck sparse_softmax_cross_entropy(const float* logits, int64_t n, int64_t c,
                                        const int64_t* labels, bool has_ignore,
                                        int64_t ignore_class, const float* scale, float* loss,
                                        float* grad) {
  return sparse_impl(logits, n, c, labels, has_ignore, ignore_class, scale, loss, grad);
}

void softmax_cross_entropy(const float* logits, const float* targets, int64_t n, int64_t c,
                           float label_smoothing, const float* scale, float* loss, float* grad) {
  const bool smooth = label_smoothing != 0.0f;
  const float keep = 1.0f - label_smoothing;
  const float spread = c > 0 ? label_smoothing / static_cast<float>(c) : 0.0f;
  for_each_row(n, c, [&](int64_t i) {
    const float* z = logits + i * c;
    const float* t = targets + i * c;
    float* g = grad ? grad + i * c : nullptr;
    const float m = row_max(z, c);
    const double s = sum_exp(z, c, m, g);
    const double log_s = std::log(s);
    double t_sum = 0.0, t_dot = 0.0;
    for (int64_t j = 0; j < c; ++j) {
      const float tj = smooth ? t[j] * keep + spread : t[j];
      t_sum += tj;
      if (tj != 0.0f) t_dot += static_cast<double>(tj) * static_cast<double>(z[j] - m);
    }
    // sum_j t_j * (logsumexp - z_j) = sum(t) * log(s) - sum_j t_j * (z_j - max)
    loss[i] = static_cast<float>(t_sum * log_s - t_dot);
    if (g) {
      const float k = scale ? scale[i] : 1.0f;
      const float p_coef = static_cast<float>(k * t_sum / s);
      for (int64_t j = 0; j < c; ++j) {
        const float tj = smooth ? t[j] * keep + spread : t[j];
        g[j] = g[j] * p_coef - k * tj;
      }
    }
  });
}

void sigmoid_binary_cross_entropy(const float* logits, const float* targets, int64_t n, int64_t d,
                                  float label_smoothing, const float* scale, float* loss,
                                  float* grad) {
  const bool smooth = label_smoothing != 0.0f;
  const float keep = 1.0f - label_smoothing;
  const float shift = 0.5f * label_smoothing;
  const double inv_d = d > 0 ? 1.0 / static_cast<double>(d) : 0.0;
  for_each_row(n, d, [&](int64_t i) {
    const float* z = logits + i * d;
    const float* t = targets + i * d;
    double acc = 0.0;
    if (grad) {
      float* g = grad + i * d;
      const float k = static_cast<float>((scale ? scale[i] : 1.0f) * inv_d);
      for (int64_t j = 0; j < d; ++j) {
        const float zj = z[j];
        const float tj = smooth ? t[j] * keep + shift : t[j];
        const float e = std::exp(-std::fabs(zj));  // in (0, 1]: never overflows
        acc += std::max(zj, 0.0f) - zj * tj + std::log1p(e);
        const float sig = zj >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        g[j] = k * (sig - tj);
      }
    } else {
      for (int64_t j = 0; j < d; ++j) {
        const float zj = z[j];
        const float tj = smooth ? t[j] * keep + shift : t[j];
        acc += std::max(zj, 0.0f) - zj * tj + std::log1p(std::exp(-std::fabs(zj)));
      }
    }
    loss[i] = d > 0 ? static_cast<float>(acc * inv_d) : std::numeric_limits<float>::quiet_NaN();
  });
}

void softmax_rows(const float* z, int64_t n, int64_t c, float* out) {
  if (n <= 0 || c <= 0) return;
  for_each_row(n, c, [&](int64_t i) {
    const float* zi = z + i * c;
    float* oi = out + i * c;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < c; ++j) {
      if (zi[j] > m || std::isnan(zi[j])) m = zi[j];
      if (std::isnan(m)) break;
    }
    float s = 0.0f;
    for (int64_t j = 0; j < c; ++j) {
      const float e = std::exp(zi[j] - m);
      oi[j] = e;
      s += e;
    }
    for (int64_t j = 0; j < c; ++j) oi[j] /= s;
  });
}

}  // namespace fastkeras
