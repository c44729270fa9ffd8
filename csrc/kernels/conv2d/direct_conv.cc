#include "kernels/conv2d/direct_conv.h"

#include <algorithm>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

// The output columns [lo, hi) of row oy whose whole window lies inside the image; the others
// reach into the padding.
struct InteriorSpan {
  int64_t lo = 0, hi = 0;
};

InteriorSpan interior_columns(const Conv2DShape& s, int64_t oy) {
  InteriorSpan span;
  const int64_t iy0 = oy * s.stride_h - s.pad_top;
  if (iy0 < 0 || iy0 + (s.kh - 1) * s.dil_h >= s.h) return span;  // the row touches padding
  span.lo = std::min(s.ow, (s.pad_left + s.stride_w - 1) / s.stride_w);
  const int64_t last = s.w - 1 + s.pad_left - (s.kw - 1) * s.dil_w;  // ox * stride_w <= last
  span.hi = last < 0 ? 0 : std::min(s.ow, last / s.stride_w + 1);
  if (span.hi < span.lo) span.hi = span.lo;
  return span;
}

// Offsets of the taps (kh, kw, c) from the window's top-left input cell.
std::vector<int64_t> interior_offsets(const Conv2DShape& s) {
  std::vector<int64_t> off;
  off.reserve(static_cast<size_t>(s.kh * s.kw * s.c));
  for (int64_t i = 0; i < s.kh; ++i)
    for (int64_t j = 0; j < s.kw; ++j)
      for (int64_t c = 0; c < s.c; ++c) off.push_back((i * s.dil_h * s.w + j * s.dil_w) * s.c + c);
  return off;
}

// The patch of output pixel (n, oy, ox) with padding cells as zeros: kh*kw*c floats.
void gather_patch(const Conv2DShape& s, const float* x, int64_t n, int64_t oy, int64_t ox,
                  float* patch) {
  for (int64_t i = 0; i < s.kh; ++i) {
    const int64_t iy = oy * s.stride_h - s.pad_top + i * s.dil_h;
    for (int64_t j = 0; j < s.kw; ++j) {
      const int64_t ix = ox * s.stride_w - s.pad_left + j * s.dil_w;
      const bool inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
      const float* src = x + ((n * s.h + iy) * s.w + ix) * s.c;
      for (int64_t c = 0; c < s.c; ++c) *patch++ = inside ? src[c] : 0.0f;
    }
  }
}

// Calls run_fn(run, pixel0) for the runs of output row r = n * oh + oy: the interior as one run
// read in place, each border pixel as a run of one over its zero-padded patch.
template <typename RunFn>
void for_each_run(const Conv2DShape& s, const float* x, int64_t r, const int64_t* interior_off,
                  const int64_t* patch_off, float* patch, RunFn&& run_fn) {
  const int64_t n = r / s.oh, oy = r % s.oh, taps = s.kh * s.kw * s.c;
  const InteriorSpan span = interior_columns(s, oy);
  auto border = [&](int64_t ox) {
    gather_patch(s, x, n, oy, ox, patch);
    run_fn(DirectConvRun{patch, taps, patch_off, taps, 1}, r * s.ow + ox);
  };
  for (int64_t ox = 0; ox < span.lo; ++ox) border(ox);
  if (span.hi > span.lo) {
    const int64_t iy0 = oy * s.stride_h - s.pad_top;
    const int64_t ix0 = span.lo * s.stride_w - s.pad_left;
    const float* src = x + ((n * s.h + iy0) * s.w + ix0) * s.c;
    run_fn(DirectConvRun{src, s.stride_w * s.c, interior_off, taps, span.hi - span.lo},
           r * s.ow + span.lo);
  }
  for (int64_t ox = span.hi; ox < s.ow; ++ox) border(ox);
}

std::vector<int64_t> identity_offsets(int64_t taps) {
  std::vector<int64_t> off(static_cast<size_t>(taps));
  for (int64_t k = 0; k < taps; ++k) off[k] = k;
  return off;
}

}  // namespace

bool direct_conv_applicable(const Conv2DShape& s) {
#if defined(FASTKERAS_X86)
  return s.c >= 1 && s.c <= kDirectConvMaxChannels && s.f >= 1 && gemm_isa() == Isa::kAvx512;
#else
  (void)s;
  return false;
#endif
}

void direct_conv_forward(const Conv2DShape& s, const float* x, const float* w, const float* bias,
                         bool relu, float* y) {
#if defined(FASTKERAS_X86)
  const int64_t rows = s.n * s.oh, taps = s.kh * s.kw * s.c;
  if (rows == 0 || s.ow == 0 || s.f == 0) return;
  const std::vector<int64_t> interior_off = interior_offsets(s), patch_off = identity_offsets(taps);
  const double flops = 2.0 * static_cast<double>(rows * s.ow) * taps * s.f;
  const int threads = threads_for(flops, rows);
  run_parallel(threads, [&](int t) {
    std::vector<float> patch(static_cast<size_t>(taps));
    const int64_t lo = rows * t / threads, hi = rows * (t + 1) / threads;
    for (int64_t r = lo; r < hi; ++r) {
      for_each_run(s, x, r, interior_off.data(), patch_off.data(), patch.data(),
                   [&](const DirectConvRun& run, int64_t pixel) {
                     direct_conv_forward_avx512(run, w, bias, s.f, relu, y + pixel * s.f);
                   });
    }
  });
#else
  (void)s, (void)x, (void)w, (void)bias, (void)relu, (void)y;
#endif
}

void direct_conv_weight_grad(const Conv2DShape& s, const float* x, const float* relu_y,
                             const float* dy, float* dw, float* db) {
  const int64_t rows = s.n * s.oh, taps = s.kh * s.kw * s.c;
  if (dw) std::fill(dw, dw + taps * s.f, 0.0f);
  if (db) std::fill(db, db + s.f, 0.0f);
#if defined(FASTKERAS_X86)
  if (rows == 0 || s.ow == 0 || s.f == 0 || (!dw && !db)) return;
  const std::vector<int64_t> interior_off = interior_offsets(s), patch_off = identity_offsets(taps);
  const double flops = 2.0 * static_cast<double>(rows * s.ow) * taps * s.f;
  const int threads = threads_for(flops, rows);
  // Each thread sums its rows into its own (taps + 1) x f partial; the partials are added after.
  const int64_t part = (taps + 1) * s.f;
  std::vector<float> partials(static_cast<size_t>(threads * part), 0.0f);
  run_parallel(threads, [&](int t) {
    std::vector<float> patch(static_cast<size_t>(taps));
    float* pdw = partials.data() + t * part;
    float* pdb = pdw + taps * s.f;
    const int64_t lo = rows * t / threads, hi = rows * (t + 1) / threads;
    for (int64_t r = lo; r < hi; ++r) {
      for_each_run(s, x, r, interior_off.data(), patch_off.data(), patch.data(),
                   [&](const DirectConvRun& run, int64_t pixel) {
                     const int64_t o = pixel * s.f;
                     direct_conv_weight_grad_avx512(run, relu_y ? relu_y + o : nullptr, dy + o, s.f,
                                                    pdw, pdb);
                   });
    }
  });
  for (int t = 0; t < threads; ++t) {
    const float* pdw = partials.data() + t * part;
    if (dw) {
      for (int64_t i = 0; i < taps * s.f; ++i) dw[i] += pdw[i];
    }
    if (db) {
      for (int64_t i = 0; i < s.f; ++i) db[i] += pdw[taps * s.f + i];
    }
  }
#else
  (void)x, (void)relu_y, (void)dy;
#endif
}

}  // namespace fastkeras
