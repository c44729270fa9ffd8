#include "kernels/pool2d/pool2d.h"

#include <algorithm>
#include <atomic>
#include <limits>

#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"
#include "kernels/pool2d/pool_windows.h"

namespace fastkeras {
namespace {

// The AVX-512 per-image kernels (ukernel_avx512_maxpool.cc) run when the GEMM dispatches to
// AVX-512; the loops here are the portable path.
bool use_avx512() {
#if defined(FASTKERAS_X86)
  return gemm_isa() == Isa::kAvx512;
#else
  return false;
#endif
}

template <typename Fn>
void over_images(const Pool2DShape& s, double work_per_image, Fn&& fn) {
  const int threads = threads_for(work_per_image * static_cast<double>(s.n), s.n);
  run_parallel(threads, [&](int t) {
    for (int64_t n = t; n < s.n; n += threads) fn(n);
  });
}

}  // namespace

void maxpool2d_forward(const Pool2DShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t in_image = s.h * s.w * s.c, out_image = s.oh * s.ow * s.c;
  const bool avx512 = use_avx512();
  over_images(s, static_cast<double>(out_image * s.ph * s.pw), [&](int64_t n) {
    const float* xi = x + n * in_image;
#if defined(FASTKERAS_X86)
    if (avx512) {
      maxpool2d_image_forward_avx512(s, xi, y + n * out_image,
                                     argmax ? argmax + n * out_image : nullptr);
      return;
    }
#endif
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      int64_t y0, y1;
      window(oy, s.stride_h, s.pad_top, s.ph, s.h, &y0, &y1);
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        int64_t x0, x1;
        window(ox, s.stride_w, s.pad_left, s.pw, s.w, &x0, &x1);
        const int64_t o = n * out_image + (oy * s.ow + ox) * s.c;
        const int64_t C = s.c;  // a local: stores through best/where cannot change it
        float* __restrict best = y + o;
        int32_t* __restrict where = argmax ? argmax + o : nullptr;
        if (y0 >= y1 || x0 >= x1) {  // a window entirely in padding
          for (int64_t ch = 0; ch < s.c; ++ch) best[ch] = -std::numeric_limits<float>::infinity();
          if (where) std::fill(where, where + s.c, -1);
          continue;
        }
        // The window's first cell seeds the max; later cells replace it only when strictly
        // larger (ties keep the first) or NaN, so a NaN anywhere in the window is the result
        // (as in Keras). Written as masks so the compiler vectorizes it.
        const int64_t first = (y0 * s.w + x0) * s.c;
        for (int64_t ch = 0; ch < s.c; ++ch) best[ch] = xi[first + ch];
        if (where) {
          for (int64_t ch = 0; ch < s.c; ++ch) where[ch] = static_cast<int32_t>(first + ch);
        }
        for (int64_t iy = y0; iy < y1; ++iy) {
          for (int64_t ix = x0; ix < x1; ++ix) {
            const int64_t base = (iy * s.w + ix) * s.c;
            if (base == first) continue;
            const float* __restrict row = xi + base;
            const int32_t base32 = static_cast<int32_t>(base);
            if (where) {
              for (int64_t ch = 0; ch < C; ++ch) {
                const float v = row[ch], b = best[ch];
                const bool take = v > b || (v != v && b == b);  // (the first NaN stays)
                const int32_t m = -static_cast<int32_t>(take);
                best[ch] = take ? v : b;
                where[ch] = (where[ch] & ~m) | ((base32 + static_cast<int32_t>(ch)) & m);
              }
            } else {
              for (int64_t ch = 0; ch < C; ++ch) {
                const float v = row[ch], b = best[ch];
                best[ch] = (v > b || (v != v && b == b)) ? v : b;
              }
            }
          }
        }
      }
    }
  });
}

bool maxpool2d_backward(const Pool2DShape& s, const float* dy, const int32_t* argmax, float* dx) {
  const int64_t in_image = s.h * s.w * s.c, out_image = s.oh * s.ow * s.c;
  // Windows that cannot overlap (stride >= window) are written cell by cell in one pass: each
  // cell gets its window's gradient if it was the winner, else 0, and the indices are only
  // compared, never used as addresses. Overlapping windows scatter-add into a cleared dx.
  const bool disjoint = s.stride_h >= s.ph && s.stride_w >= s.pw;
  // Whether the windows tile the image exactly (no cell outside every window).
  const bool tiles = disjoint && s.stride_h == s.ph && s.stride_w == s.pw && s.pad_top == 0 &&
                     s.pad_left == 0 && s.oh * s.ph == s.h && s.ow * s.pw == s.w;
  const bool avx512 = use_avx512();
  std::atomic<bool> in_range{true};
  over_images(s, static_cast<double>(out_image + in_image), [&](int64_t n) {
    float* dxi = dx + n * in_image;
    const float* g = dy + n * out_image;
    const int32_t* idx = argmax + n * out_image;
    if (!tiles) std::fill(dxi, dxi + in_image, 0.0f);
#if defined(FASTKERAS_X86)
    if (avx512 && disjoint) {
      maxpool2d_image_backward_disjoint_avx512(s, g, idx, dxi);
      return;
    }
#endif
    if (!disjoint) {
      bool ok = true;
      for (int64_t i = 0; i < out_image; ++i) {
        const int32_t k = idx[i];
        if (k >= 0 && k < in_image) {
          dxi[k] += g[i];
        } else if (k >= in_image) {
          ok = false;
        }
      }
      if (!ok) in_range.store(false, std::memory_order_relaxed);
      return;
    }
    const int64_t C = s.c;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      int64_t y0, y1;
      window(oy, s.stride_h, s.pad_top, s.ph, s.h, &y0, &y1);
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        int64_t x0, x1;
        window(ox, s.stride_w, s.pad_left, s.pw, s.w, &x0, &x1);
        const int64_t o = (oy * s.ow + ox) * C;
        const float* __restrict go = g + o;
        const int32_t* __restrict io = idx + o;
        for (int64_t iy = y0; iy < y1; ++iy) {
          for (int64_t ix = x0; ix < x1; ++ix) {
            const int64_t base = (iy * s.w + ix) * C;
            float* __restrict d = dxi + base;
            const int32_t base32 = static_cast<int32_t>(base);
            for (int64_t ch = 0; ch < C; ++ch) {
              d[ch] = io[ch] == base32 + static_cast<int32_t>(ch) ? go[ch] : 0.0f;
            }
          }
        }
      }
    }
  });
  return in_range.load();
}

void avgpool2d_forward(const Pool2DShape& s, const float* x, float* y) {
  const int64_t in_image = s.h * s.w * s.c, out_image = s.oh * s.ow * s.c;
  over_images(s, static_cast<double>(out_image * s.ph * s.pw), [&](int64_t n) {
    const float* xi = x + n * in_image;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      int64_t y0, y1;
      window(oy, s.stride_h, s.pad_top, s.ph, s.h, &y0, &y1);
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        int64_t x0, x1;
        window(ox, s.stride_w, s.pad_left, s.pw, s.w, &x0, &x1);
        float* out = y + n * out_image + (oy * s.ow + ox) * s.c;
        std::fill(out, out + s.c, 0.0f);
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) {
            const float* row = xi + (iy * s.w + ix) * s.c;
            for (int64_t ch = 0; ch < s.c; ++ch) out[ch] += row[ch];
          }
        const int64_t cells = (y1 - y0) * (x1 - x0);
        const float inv = cells > 0 ? 1.0f / static_cast<float>(cells) : 0.0f;
        for (int64_t ch = 0; ch < s.c; ++ch) out[ch] *= inv;
      }
    }
  });
}

void avgpool2d_backward(const Pool2DShape& s, const float* dy, float* dx) {
  const int64_t in_image = s.h * s.w * s.c, out_image = s.oh * s.ow * s.c;
  over_images(s, static_cast<double>(out_image * s.ph * s.pw), [&](int64_t n) {
    float* dxi = dx + n * in_image;
    std::fill(dxi, dxi + in_image, 0.0f);
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      int64_t y0, y1;
      window(oy, s.stride_h, s.pad_top, s.ph, s.h, &y0, &y1);
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        int64_t x0, x1;
        window(ox, s.stride_w, s.pad_left, s.pw, s.w, &x0, &x1);
        const int64_t cells = (y1 - y0) * (x1 - x0);
        if (cells == 0) continue;
        const float inv = 1.0f / static_cast<float>(cells);
        const float* g = dy + n * out_image + (oy * s.ow + ox) * s.c;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) {
            float* d = dxi + (iy * s.w + ix) * s.c;
            for (int64_t ch = 0; ch < s.c; ++ch) d[ch] += g[ch] * inv;
          }
      }
    }
  });
}

}  // namespace fastkeras
