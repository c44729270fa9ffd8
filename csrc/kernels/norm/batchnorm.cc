#include "kernels/norm/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/parallel.h"

namespace fastkeras {

namespace {

// A rectangle of the (outer, channels) grid; every inner element of it belongs to one thread.
struct Block {
  int64_t o0, o1, c0, c1;
};

// Splits the grid into disjoint blocks, one per thread. Rows (outer) are split when there are
// enough of them to go round, which keeps every thread on contiguous memory for channels-last
// data; otherwise channels are. `flops_per_element` sizes the thread count.
std::vector<Block> plan(const BatchNormShape& s, double flops_per_element) {
  const double flops = flops_per_element * static_cast<double>(s.size());
  const int64_t most = std::max<int64_t>(s.outer, s.channels);
  int t = threads_for(flops, most);
  bool by_rows;
  if (s.inner == 1) {
    by_rows = s.outer >= t;
  } else {
    // Whole channel planes per thread when there are plenty of channels.
    by_rows = !(s.channels >= 4 * static_cast<int64_t>(t) || s.outer < t);
  }
  const int64_t units = by_rows ? s.outer : s.channels;
  if (units < t) t = static_cast<int>(std::max<int64_t>(units, 1));
  std::vector<Block> blocks;
  blocks.reserve(t);
  for (int i = 0; i < t; ++i) {
    const int64_t lo = units * i / t, hi = units * (i + 1) / t;
    if (by_rows) {
      blocks.push_back({lo, hi, 0, s.channels});
    } else {
      blocks.push_back({0, s.outer, lo, hi});
    }
  }
  return blocks;
}

// Per-thread partial sums: `count` arrays of `channels` doubles for each block, zeroed.
struct Partials {
  Partials(size_t blocks, int64_t channels, int count)
      : c(channels), k(count), data(blocks * static_cast<size_t>(channels) * count, 0.0) {}
  double* at(size_t block, int which) {
    return data.data() + (block * k + which) * static_cast<size_t>(c);
  }
  // Sum over blocks of accumulator `which`, for channel ch.
  double total(int which, int64_t ch) const {
    double sum = 0.0;
    const size_t nb = data.size() / (static_cast<size_t>(c) * k);
    for (size_t b = 0; b < nb; ++b) sum += data[(b * k + which) * static_cast<size_t>(c) + ch];
    return sum;
  }
  int64_t c;
  int k;
  std::vector<double> data;
};

constexpr int kLanes = 8;

// Sums of (x - shift) and (x - shift)^2 over one block. Shifting by a value from the channel
// keeps the one-pass variance formula accurate when |mean| is large next to the spread.
void stats_block(const BatchNormShape& s, const Block& b, const float* x, const float* shift,
                 double* s1, double* s2) {
  const int64_t c = s.channels, inner = s.inner;
  if (inner == 1) {
    for (int64_t o = b.o0; o < b.o1; ++o) {
      const float* row = x + o * c;
      for (int64_t ch = b.c0; ch < b.c1; ++ch) {
        const double d = static_cast<double>(row[ch]) - shift[ch];
        s1[ch] += d;
        s2[ch] += d * d;
      }
    }
    return;
  }
  for (int64_t o = b.o0; o < b.o1; ++o) {
    for (int64_t ch = b.c0; ch < b.c1; ++ch) {
      const float* seg = x + (o * c + ch) * inner;
      const double k = shift[ch];
      double a[kLanes] = {}, q[kLanes] = {};
      int64_t i = 0;
      for (; i + kLanes <= inner; i += kLanes) {
        for (int l = 0; l < kLanes; ++l) {
          const double d = static_cast<double>(seg[i + l]) - k;
          a[l] += d;
          q[l] += d * d;
        }
      }
      double sa = 0.0, sq = 0.0;
      for (int l = 0; l < kLanes; ++l) {
        sa += a[l];
        sq += q[l];
      }
      for (; i < inner; ++i) {
        const double d = static_cast<double>(seg[i]) - k;
        sa += d;
        sq += d * d;
      }
      s1[ch] += sa;
      s2[ch] += sq;
    }
  }
}

// y = (x - mean) * scale + offset over one block.
void affine_block(const BatchNormShape& s, const Block& b, const float* x, const float* mean,
                  const float* scale, const float* offset, float* y) {
  const int64_t c = s.channels, inner = s.inner;
  if (inner == 1) {
    for (int64_t o = b.o0; o < b.o1; ++o) {
      const float* xr = x + o * c;
      float* yr = y + o * c;
      for (int64_t ch = b.c0; ch < b.c1; ++ch) {
        yr[ch] = (xr[ch] - mean[ch]) * scale[ch] + offset[ch];
      }
    }
    return;
  }
  for (int64_t o = b.o0; o < b.o1; ++o) {
    for (int64_t ch = b.c0; ch < b.c1; ++ch) {
      const int64_t base = (o * c + ch) * inner;
      const float* xs = x + base;
      float* ys = y + base;
      const float m = mean[ch], sc = scale[ch], of = offset[ch];
      for (int64_t i = 0; i < inner; ++i) ys[i] = (xs[i] - m) * sc + of;
    }
  }
}

// Sums of dy and dy * (x - mean) over one block.
void grad_sums_block(const BatchNormShape& s, const Block& b, const float* x, const float* dy,
                     const float* mean, double* sdy, double* sdyx) {
  const int64_t c = s.channels, inner = s.inner;
  if (inner == 1) {
    for (int64_t o = b.o0; o < b.o1; ++o) {
      const float* xr = x + o * c;
      const float* gr = dy + o * c;
      for (int64_t ch = b.c0; ch < b.c1; ++ch) {
        const double g = gr[ch];
        sdy[ch] += g;
        sdyx[ch] += g * (static_cast<double>(xr[ch]) - mean[ch]);
      }
    }
    return;
  }
  for (int64_t o = b.o0; o < b.o1; ++o) {
    for (int64_t ch = b.c0; ch < b.c1; ++ch) {
      const int64_t base = (o * c + ch) * inner;
      const float* xs = x + base;
      const float* gs = dy + base;
      const double m = mean[ch];
      double a[kLanes] = {}, q[kLanes] = {};
      int64_t i = 0;
      for (; i + kLanes <= inner; i += kLanes) {
        for (int l = 0; l < kLanes; ++l) {
          const double g = gs[i + l];
          a[l] += g;
          q[l] += g * (static_cast<double>(xs[i + l]) - m);
        }
      }
      double sa = 0.0, sq = 0.0;
      for (int l = 0; l < kLanes; ++l) {
        sa += a[l];
        sq += q[l];
      }
      for (; i < inner; ++i) {
        const double g = gs[i];
        sa += g;
        sq += g * (static_cast<double>(xs[i]) - m);
      }
      sdy[ch] += sa;
      sdyx[ch] += sq;
    }
  }
}

// dx = p * dy + q * (x - mean) + r over one block (q, r null: dx = p * dy).
void dx_block(const BatchNormShape& s, const Block& b, const float* x, const float* dy,
              const float* mean, const float* p, const float* q, const float* r, float* dx) {
  const int64_t c = s.channels, inner = s.inner;
  if (inner == 1) {
    for (int64_t o = b.o0; o < b.o1; ++o) {
      const float* xr = x + o * c;
      const float* gr = dy + o * c;
      float* dr = dx + o * c;
      if (q) {
        for (int64_t ch = b.c0; ch < b.c1; ++ch) {
          dr[ch] = p[ch] * gr[ch] + q[ch] * (xr[ch] - mean[ch]) + r[ch];
        }
      } else {
        for (int64_t ch = b.c0; ch < b.c1; ++ch) dr[ch] = p[ch] * gr[ch];
      }
    }
    return;
  }
  for (int64_t o = b.o0; o < b.o1; ++o) {
    for (int64_t ch = b.c0; ch < b.c1; ++ch) {
      const int64_t base = (o * c + ch) * inner;
      const float* xs = x + base;
      const float* gs = dy + base;
      float* ds = dx + base;
      const float pc = p[ch];
      if (q) {
        const float qc = q[ch], rc = r[ch], m = mean[ch];
        for (int64_t i = 0; i < inner; ++i) ds[i] = pc * gs[i] + qc * (xs[i] - m) + rc;
      } else {
        for (int64_t i = 0; i < inner; ++i) ds[i] = pc * gs[i];
      }
    }
  }
}

}  // namespace

void batchnorm_forward_train(const BatchNormShape& s, const float* x, const float* gamma,
                             const float* beta, float epsilon, float* y, float* mean, float* var,
                             float* inv_std) {
  const int64_t c = s.channels;
  if (c <= 0) return;
  const int64_t n = s.per_channel();
  if (n <= 0) {
    for (int64_t ch = 0; ch < c; ++ch) {
      mean[ch] = 0.0f;
      var[ch] = 0.0f;
      inv_std[ch] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(epsilon)));
    }
    return;
  }
  // The first element of each channel is the shift for the one-pass variance.
  std::vector<float> shift(c);
  for (int64_t ch = 0; ch < c; ++ch) shift[ch] = s.inner == 1 ? x[ch] : x[ch * s.inner];

  const std::vector<Block> blocks = plan(s, 4.0);
  Partials part(blocks.size(), c, 2);
  run_parallel(static_cast<int>(blocks.size()), [&](int t) {
    stats_block(s, blocks[t], x, shift.data(), part.at(t, 0), part.at(t, 1));
  });

  std::vector<float> scale(c), offset(c);
  const double inv_n = 1.0 / static_cast<double>(n);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double m1 = part.total(0, ch) * inv_n;
    const double v = std::max(part.total(1, ch) * inv_n - m1 * m1, 0.0);
    const double inv = 1.0 / std::sqrt(v + static_cast<double>(epsilon));
    mean[ch] = static_cast<float>(shift[ch] + m1);
    var[ch] = static_cast<float>(v);
    inv_std[ch] = static_cast<float>(inv);
    scale[ch] = static_cast<float>(gamma ? gamma[ch] * inv : inv);
    offset[ch] = beta ? beta[ch] : 0.0f;
  }
  run_parallel(static_cast<int>(blocks.size()),
               [&](int t) { affine_block(s, blocks[t], x, mean, scale.data(), offset.data(), y); });
}

void batchnorm_forward_infer(const BatchNormShape& s, const float* x, const float* mean,
                             const float* var, const float* gamma, const float* beta, float epsilon,
                             float* y) {
  const int64_t c = s.channels;
  if (c <= 0 || s.per_channel() <= 0) return;
  std::vector<float> scale(c), offset(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[ch]) + epsilon);
    scale[ch] = static_cast<float>(gamma ? gamma[ch] * inv : inv);
    offset[ch] = beta ? beta[ch] : 0.0f;
  }
  const std::vector<Block> blocks = plan(s, 2.0);
  run_parallel(static_cast<int>(blocks.size()),
               [&](int t) { affine_block(s, blocks[t], x, mean, scale.data(), offset.data(), y); });
}

void batchnorm_backward(const BatchNormShape& s, const float* x, const float* dy, const float* mean,
                        const float* inv_std, const float* gamma, bool batch_stats, float* dx,
                        float* dgamma, float* dbeta) {
  const int64_t c = s.channels;
  if (c <= 0) return;
  const int64_t n = s.per_channel();
  if (n <= 0) {
    for (int64_t ch = 0; ch < c; ++ch) {
      if (dgamma) dgamma[ch] = 0.0f;
      if (dbeta) dbeta[ch] = 0.0f;
    }
    return;
  }
  const bool need_sums = dgamma || dbeta || (dx && batch_stats);
  const std::vector<Block> blocks = plan(s, 4.0);
  std::vector<double> sum_dy(c, 0.0), sum_dyx(c, 0.0);
  if (need_sums) {
    Partials part(blocks.size(), c, 2);
    run_parallel(static_cast<int>(blocks.size()), [&](int t) {
      grad_sums_block(s, blocks[t], x, dy, mean, part.at(t, 0), part.at(t, 1));
    });
    for (int64_t ch = 0; ch < c; ++ch) {
      sum_dy[ch] = part.total(0, ch);
      sum_dyx[ch] = part.total(1, ch);
      if (dbeta) dbeta[ch] = static_cast<float>(sum_dy[ch]);
      if (dgamma) dgamma[ch] = static_cast<float>(sum_dyx[ch] * inv_std[ch]);
    }
  }
  if (!dx) return;
  std::vector<float> p(c), q, r;
  if (batch_stats) {
    q.resize(c);
    r.resize(c);
  }
  const double inv_n = 1.0 / static_cast<double>(n);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double inv = inv_std[ch];
    const double a = gamma ? gamma[ch] * inv : inv;
    p[ch] = static_cast<float>(a);
    if (batch_stats) {
      // sum(dy * xhat) = inv * sum(dy * (x - mean)).
      q[ch] = static_cast<float>(-a * inv * inv * sum_dyx[ch] * inv_n);
      r[ch] = static_cast<float>(-a * sum_dy[ch] * inv_n);
    }
  }
  run_parallel(static_cast<int>(blocks.size()), [&](int t) {
    dx_block(s, blocks[t], x, dy, mean, p.data(), batch_stats ? q.data() : nullptr,
             batch_stats ? r.data() : nullptr, dx);
  });
}

}  // namespace fastkeras
