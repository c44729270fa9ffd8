#include "kernels/conv2d/conv_pool.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "kernels/conv2d/direct_conv.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

Conv2DShape one_image(const Conv2DShape& s) {
  Conv2DShape one = s;
  one.n = 1;
  return one;
}

float* image_buffer(std::vector<float>* buf, int64_t n) {
  if (static_cast<int64_t>(buf->size()) < n) buf->resize(static_cast<size_t>(n));
  return buf->data();
}

}  // namespace

bool conv_relu_maxpool_applicable(const Conv2DShape& s) {
  return direct_conv_applicable(s) && s.stride_h == 1 && s.stride_w == 1 && s.dil_h == 1 &&
         s.dil_w == 1 && s.pad_top == 0 && s.pad_left == 0 && s.oh == s.h - s.kh + 1 &&
         s.ow == s.w - s.kw + 1 && s.oh >= 2 && s.ow >= 2;
}

void conv_relu_maxpool_forward(const Conv2DShape& s, const float* x, const float* w,
                               const float* bias, float* y, int32_t* which) {
#if !defined(FASTKERAS_X86)
  (void)s, (void)x, (void)w, (void)bias, (void)y, (void)which;
  throw std::logic_error("conv_relu_maxpool_forward: no kernels for this CPU");
#else
  const int64_t ph = s.oh / 2, pw = s.ow / 2, f = s.f;
  const Conv2DShape one = one_image(s);
  const int threads = threads_for(2.0 * s.n * s.oh * s.ow * f * s.kh * s.kw * s.c, s.n);
  // Threads over images; the convolution of an image (itself on one thread here) goes to this
  // thread's buffer and is pooled from there.
  run_parallel(threads, [&](int t) {
    thread_local std::vector<float> buf;
    float* const z = image_buffer(&buf, s.oh * s.ow * f);
    for (int64_t n = t; n < s.n; n += threads) {
      direct_conv_forward(one, x + n * s.h * s.w * s.c, w, bias, true, z);
      for (int64_t py = 0; py < ph; ++py) {
        for (int64_t px = 0; px < pw; ++px) {
          const float* c0 = z + ((2 * py) * s.ow + 2 * px) * f;
          const float* cells[4] = {c0, c0 + f, c0 + s.ow * f, c0 + (s.ow + 1) * f};
          const int64_t o = ((n * ph + py) * pw + px) * f;
          pool_window_avx512(cells, f, y + o, which + o);
        }
      }
    }
  });
#endif
}

void conv_relu_maxpool_backward(const Conv2DShape& s, const float* x, const float* y,
                                const int32_t* which, const float* dy, float* dw, float* db) {
#if !defined(FASTKERAS_X86)
  (void)s, (void)x, (void)y, (void)which, (void)dy, (void)dw, (void)db;
  throw std::logic_error("conv_relu_maxpool_backward: no kernels for this CPU");
#else
  const int64_t ph = s.oh / 2, pw = s.ow / 2, f = s.f, taps = s.kh * s.kw * s.c;
  if (dw) std::fill(dw, dw + taps * f, 0.0f);
  if (db) std::fill(db, db + f, 0.0f);
  if (!dw && !db) return;
  const Conv2DShape one = one_image(s);
  const int threads = threads_for(2.0 * s.n * s.oh * s.ow * f * taps, s.n);
  // Each thread's sums (taps*f kernel, then f bias), added together at the end.
  std::vector<float> sums(static_cast<size_t>(threads * (taps + 1) * f), 0.0f);
  run_parallel(threads, [&](int t) {
    thread_local std::vector<float> grad_buf, part_buf;
    float* const dz = image_buffer(&grad_buf, s.oh * s.ow * f);
    float* const part = image_buffer(&part_buf, (taps + 1) * f);
    float* const mine = sums.data() + t * (taps + 1) * f;
    for (int64_t n = t; n < s.n; n += threads) {
      // The convolution's output gradient for this image: the pooled gradient at each window's
      // maximum where the relu passed (the max is the relu's output there), zero elsewhere.
      // Every cell of every window is written (no clearing pass); only the row and column an
      // odd size leaves outside the windows are cleared.
      if (s.oh % 2) std::fill(dz + (s.oh - 1) * s.ow * f, dz + s.oh * s.ow * f, 0.0f);
      if (s.ow % 2)
        for (int64_t r = 0; r < 2 * ph; ++r)
          std::fill(dz + (r * s.ow + s.ow - 1) * f, dz + (r * s.ow + s.ow) * f, 0.0f);
      for (int64_t py = 0; py < ph; ++py) {
        for (int64_t px = 0; px < pw; ++px) {
          const int64_t o = ((n * ph + py) * pw + px) * f;
          float* c0 = dz + ((2 * py) * s.ow + 2 * px) * f;
          float* const cells[4] = {c0, c0 + f, c0 + s.ow * f, c0 + (s.ow + 1) * f};
          unpool_window_avx512(y + o, dy + o, which + o, f, cells);
        }
      }
      direct_conv_weight_grad(one, x + n * s.h * s.w * s.c, nullptr, dz, part, part + taps * f);
      for (int64_t i = 0; i < (taps + 1) * f; ++i) mine[i] += part[i];
    }
  });
  for (int t = 0; t < threads; ++t) {
    const float* part = sums.data() + t * (taps + 1) * f;
    if (dw)
      for (int64_t i = 0; i < taps * f; ++i) dw[i] += part[i];
    if (db)
      for (int64_t k = 0; k < f; ++k) db[k] += part[taps * f + k];
  }
#endif
}

}  // namespace fastkeras
