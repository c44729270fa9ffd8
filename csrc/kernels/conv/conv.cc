#include "kernels/conv/conv.h"

#include <algorithm>
#include <vector>

#include "kernels/elementwise/bias.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

// acc[c*m + j] += xr[c] * wr[c*m + j] for all c, j: one kernel tap applied to one pixel.
inline void tap_accumulate(const float* __restrict xr, const float* __restrict wr, int64_t c,
                           int64_t m, float* __restrict acc) {
  if (m == 1) {
    for (int64_t ch = 0; ch < c; ++ch) acc[ch] += xr[ch] * wr[ch];
    return;
  }
  // Depth multiplier > 1: repeat each input value m times into a small buffer first, so the
  // multiply-add runs as one long contiguous (vectorizable) loop over all c*m outputs.
  thread_local std::vector<float> repeated;
  const int64_t f = c * m;
  if (static_cast<int64_t>(repeated.size()) < f) repeated.resize(f);
  float* __restrict xe = repeated.data();
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t j = 0; j < m; ++j) xe[ch * m + j] = xr[ch];
  }
  for (int64_t k = 0; k < f; ++k) acc[k] += xe[k] * wr[k];
}

// acc[c] += sum_j g[c*m + j] * wr[c*m + j]: the input gradient of one tap.
inline void tap_input_grad(const float* __restrict g, const float* __restrict wr, int64_t c,
                           int64_t m, float* __restrict acc) {
  if (m == 1) {
    for (int64_t ch = 0; ch < c; ++ch) acc[ch] += g[ch] * wr[ch];
    return;
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    const float* __restrict gc = g + ch * m;
    const float* __restrict wc = wr + ch * m;
    float sum = 0.0f;
    for (int64_t j = 0; j < m; ++j) sum += gc[j] * wc[j];
    acc[ch] += sum;
  }
}

// Splits [0, items) into `threads` contiguous ranges and runs fn(t, lo, hi) on each.
template <typename Fn>
void split_range(int threads, int64_t items, Fn&& fn) {
  run_parallel(threads, [&](int t) {
    const int64_t lo = items * t / threads, hi = items * (t + 1) / threads;
    if (lo < hi) fn(t, lo, hi);
  });
}

double taps_flops(const Conv2DShape& s, int64_t multiplier) {
  return 2.0 * static_cast<double>(s.n) * static_cast<double>(s.oh * s.ow) *
         static_cast<double>(s.kh * s.kw * s.c * multiplier);
}

}  // namespace

void depthwise_conv2d_forward(const Conv2DShape& s, int64_t multiplier, const float* x,
                              const float* w, const float* bias, float* y) {
  const int64_t c = s.c, m = multiplier, f = c * m;
  const int64_t rows = s.n * s.oh;  // one work item = one output row of one image
  if (rows == 0 || s.ow == 0 || f == 0) return;
  const int threads = threads_for(taps_flops(s, m), rows);
  split_range(threads, rows, [&](int, int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / s.oh, oy = r % s.oh;
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        float* out = y + (r * s.ow + ox) * f;
        if (bias) {
          std::copy(bias, bias + f, out);
        } else {
          std::fill(out, out + f, 0.0f);
        }
        for (int64_t i = 0; i < s.kh; ++i) {
          const int64_t iy = oy * s.stride_h - s.pad_top + i * s.dil_h;
          if (iy < 0 || iy >= s.h) continue;
          for (int64_t j = 0; j < s.kw; ++j) {
            const int64_t ix = ox * s.stride_w - s.pad_left + j * s.dil_w;
            if (ix < 0 || ix >= s.w) continue;
            tap_accumulate(x + ((n * s.h + iy) * s.w + ix) * c, w + (i * s.kw + j) * f, c, m, out);
          }
        }
      }
    }
  });
}

void depthwise_conv2d_backward(const Conv2DShape& s, int64_t multiplier, const float* x,
                               const float* w, const float* dy, float* dx, float* dw, float* db) {
  const int64_t c = s.c, m = multiplier, f = c * m;
  const int64_t taps = s.kh * s.kw;
  const int64_t out_rows = s.n * s.oh * s.ow;
  if (db) column_sums(dy, out_rows, f, f, 0.0f, db);
  const double flops = taps_flops(s, m);

  if (dx) {
    // Gathered per input pixel (no two threads write the same cell): input (iy, ix) gets
    // tap (i, j) of output (oy, ox) when oy * stride - pad + i * dil == iy.
    const int64_t rows = s.n * s.h;
    const int threads = threads_for(flops, rows);
    split_range(threads, rows, [&](int, int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t n = r / s.h, iy = r % s.h;
        for (int64_t ix = 0; ix < s.w; ++ix) {
          float* acc = dx + (r * s.w + ix) * c;
          std::fill(acc, acc + c, 0.0f);
          for (int64_t i = 0; i < s.kh; ++i) {
            const int64_t ty = iy + s.pad_top - i * s.dil_h;
            if (ty < 0 || ty % s.stride_h) continue;
            const int64_t oy = ty / s.stride_h;
            if (oy >= s.oh) continue;
            for (int64_t j = 0; j < s.kw; ++j) {
              const int64_t tx = ix + s.pad_left - j * s.dil_w;
              if (tx < 0 || tx % s.stride_w) continue;
              const int64_t ox = tx / s.stride_w;
              if (ox >= s.ow) continue;
              tap_input_grad(dy + ((n * s.oh + oy) * s.ow + ox) * f, w + (i * s.kw + j) * f, c, m,
                             acc);
            }
          }
        }
      }
    });
  }

  if (dw) {
    // Each thread sums its share of output pixels into its own copy of the kernel gradient;
    // the copies are added at the end (fixed order, so the result does not depend on timing).
    const int64_t wsize = taps * f;
    const int64_t rows = s.n * s.oh;
    const int threads = threads_for(flops, rows);
    std::vector<float> partial(static_cast<size_t>(std::max(threads - 1, 0) * wsize));
    std::fill(dw, dw + wsize, 0.0f);
    split_range(threads, rows, [&](int t, int64_t lo, int64_t hi) {
      float* acc = t == 0 ? dw : partial.data() + (t - 1) * wsize;
      if (t > 0) std::fill(acc, acc + wsize, 0.0f);
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t n = r / s.oh, oy = r % s.oh;
        for (int64_t ox = 0; ox < s.ow; ++ox) {
          const float* g = dy + (r * s.ow + ox) * f;
          for (int64_t i = 0; i < s.kh; ++i) {
            const int64_t iy = oy * s.stride_h - s.pad_top + i * s.dil_h;
            if (iy < 0 || iy >= s.h) continue;
            for (int64_t j = 0; j < s.kw; ++j) {
              const int64_t ix = ox * s.stride_w - s.pad_left + j * s.dil_w;
              if (ix < 0 || ix >= s.w) continue;
              // dw[i, j, c, :] += x[c] * g[c, :]: the same product as the forward tap, with
              // the roles of the weights and the output swapped.
              tap_accumulate(x + ((n * s.h + iy) * s.w + ix) * c, g, c, m,
                             acc + (i * s.kw + j) * f);
            }
          }
        }
      }
    });
    for (int t = 1; t < threads; ++t) {
      const float* p = partial.data() + (t - 1) * wsize;
      for (int64_t k = 0; k < wsize; ++k) dw[k] += p[k];
    }
  }
}

}  // namespace fastkeras
