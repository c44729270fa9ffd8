#include "kernels/gemm/pack.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace fastkeras {
namespace {

// Gathers `rows` (<= W) strided lines of `len` contiguous floats into `len` groups of W floats
// (a transpose into a panel), zero-filling lines rows..W-1. W is a compile-time width so the
// inner loop unrolls.
template <int W>
void gather_lines(const float* src, int64_t stride, int rows, int64_t len, float* dst) {
  if (rows == W) {
    int64_t k = 0;
#if defined(__SSE2__)
    // 4 x 4 blocks transposed in registers (every x86-64 has SSE): half the instructions of
    // moving the floats one by one.
    if constexpr (W % 4 == 0) {
      for (; k + 4 <= len; k += 4) {
        for (int r = 0; r < W; r += 4) {
          const float* s = src + r * stride + k;
          __m128 l0 = _mm_loadu_ps(s), l1 = _mm_loadu_ps(s + stride);
          __m128 l2 = _mm_loadu_ps(s + 2 * stride), l3 = _mm_loadu_ps(s + 3 * stride);
          _MM_TRANSPOSE4_PS(l0, l1, l2, l3);
          float* d = dst + k * W + r;
          _mm_storeu_ps(d, l0);
          _mm_storeu_ps(d + W, l1);
          _mm_storeu_ps(d + 2 * W, l2);
          _mm_storeu_ps(d + 3 * W, l3);
        }
      }
    }
#endif
    for (; k < len; ++k) {
      const float* s = src + k;
#pragma GCC unroll 16
      for (int r = 0; r < W; ++r) dst[k * W + r] = s[r * stride];
    }
    return;
  }
  for (int64_t k = 0; k < len; ++k) {
    int r = 0;
    for (; r < rows; ++r) dst[k * W + r] = src[r * stride + k];
    for (; r < W; ++r) dst[k * W + r] = 0.0f;
  }
}

// Copies `len` lines of `cols` (<= W) contiguous floats (lines `stride` apart) into `len`
// groups of W floats, zero-filling columns cols..W-1.
template <int W>
void copy_lines(const float* src, int64_t stride, int cols, int64_t len, float* dst) {
  if (cols == W) {
    for (int64_t k = 0; k < len; ++k) std::memcpy(dst + k * W, src + k * stride, W * sizeof(float));
    return;
  }
  for (int64_t k = 0; k < len; ++k) {
    std::memcpy(dst + k * W, src + k * stride, cols * sizeof(float));
    std::memset(dst + k * W + cols, 0, (W - cols) * sizeof(float));
  }
}

// One micro-panel of width W: `width` (<= W) lines taken along the panel's short side.
// `transposed_source` says the short side is contiguous in memory.
template <int W>
void pack_panel(bool short_side_contiguous, const float* src, int64_t ld, int width, int64_t len,
                float* dst) {
  if (short_side_contiguous) {
    copy_lines<W>(src, ld, width, len, dst);
  } else {
    gather_lines<W>(src, ld, width, len, dst);
  }
}

using PanelFn = void (*)(bool, const float*, int64_t, int, int64_t, float*);

PanelFn panel_fn(int w) {
  switch (w) {
    case 4:
      return pack_panel<4>;
    case 6:
      return pack_panel<6>;
    case 8:
      return pack_panel<8>;
    case 12:
      return pack_panel<12>;
    case 16:
      return pack_panel<16>;
    case 32:
      return pack_panel<32>;
    default:
      return nullptr;
  }
}

// The full panels of a block whose short side is contiguous (`width` floats of each of `len`
// lines, lines `stride` apart, width a multiple of w): line by line, each line's w-float
// pieces to the panels' streams. Reading whole lines in order lets the hardware prefetcher
// stream them, where a panel at a time would hop `stride` floats per w floats read.
template <int W>
void copy_rows_into_panels_w(const float* src, int64_t stride, int64_t width, int64_t len,
                             float* dst) {
  const int64_t panels = width / W;
  for (int64_t k = 0; k < len; ++k) {
    const float* s = src + k * stride;
    float* d = dst + k * W;
    for (int64_t p = 0; p < panels; ++p) std::memcpy(d + p * len * W, s + p * W, W * sizeof(float));
  }
}

void copy_rows_into_panels(const float* src, int64_t stride, int64_t width, int64_t len, int w,
                           float* dst) {
  if (width <= 0 || len <= 0) return;
  switch (w) {
    case 4:
      return copy_rows_into_panels_w<4>(src, stride, width, len, dst);
    case 6:
      return copy_rows_into_panels_w<6>(src, stride, width, len, dst);
    case 8:
      return copy_rows_into_panels_w<8>(src, stride, width, len, dst);
    case 12:
      return copy_rows_into_panels_w<12>(src, stride, width, len, dst);
    case 16:
      return copy_rows_into_panels_w<16>(src, stride, width, len, dst);
    case 32:
      return copy_rows_into_panels_w<32>(src, stride, width, len, dst);
    default:
      for (int64_t p = 0; p < width; p += w)
        for (int64_t k = 0; k < len; ++k)
          std::memcpy(dst + p * len + k * w, src + k * stride + p, w * sizeof(float));
  }
}

}  // namespace

void pack_a_block(Trans trans, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t k0,
                  int64_t kc, int mr, float* dst) {
  PanelFn fn = panel_fn(mr);
  // op(A)(i, k) is a[i*lda + k] (no transpose: rows of the panel are strided lines) or
  // a[k*lda + i] (transpose: the panel's mr values for one k are contiguous).
  const bool contiguous = trans == Trans::kYes;
  if (contiguous) {
    const int64_t full = (mc / mr) * mr;
    copy_rows_into_panels(a + k0 * lda + i0, lda, full, kc, mr, dst);
    dst += (full / mr) * kc * mr;
    i0 += full;
    mc -= full;
  }
  for (int64_t p = 0; p < mc; p += mr) {
    const int width = static_cast<int>(std::min<int64_t>(mr, mc - p));
    const int64_t i = i0 + p;
    const float* src = contiguous ? a + k0 * lda + i : a + i * lda + k0;
    fn(contiguous, src, lda, width, kc, dst);
    dst += kc * mr;
  }
}

void pack_b_block(Trans trans, const float* b, int64_t ldb, int64_t k0, int64_t kc, int64_t j0,
                  int64_t nc, int nr, float* dst) {
  PanelFn fn = panel_fn(nr);
  // op(B)(k, j) is b[k*ldb + j] (no transpose: nr values for one k are contiguous) or
  // b[j*ldb + k] (transpose: each column of the panel is a strided line).
  const bool contiguous = trans == Trans::kNo;
  if (contiguous) {
    const int64_t full = (nc / nr) * nr;
    copy_rows_into_panels(b + k0 * ldb + j0, ldb, full, kc, nr, dst);
    dst += (full / nr) * kc * nr;
    j0 += full;
    nc -= full;
  }
  for (int64_t p = 0; p < nc; p += nr) {
    const int width = static_cast<int>(std::min<int64_t>(nr, nc - p));
    const int64_t j = j0 + p;
    const float* src = contiguous ? b + k0 * ldb + j : b + j * ldb + k0;
    fn(contiguous, src, ldb, width, kc, dst);
    dst += kc * nr;
  }
}

}  // namespace fastkeras
