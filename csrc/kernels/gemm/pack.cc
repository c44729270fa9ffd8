#include "kernels/gemm/pack.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

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

// The full panels of a block whose short side is contiguous (`width` floats of each of `len`
// lines, lines `stride` apart, width a multiple of W): line by line, each line's W-float
// pieces to the panels' streams. Reading whole lines in order lets the hardware prefetcher
// stream them, where a panel at a time would hop `stride` floats per W floats read.
template <int W>
void copy_rows_into_panels(const float* src, int64_t stride, int64_t width, int64_t len,
                           float* dst) {
  const int64_t panels = width / W;
  for (int64_t k = 0; k < len; ++k) {
    const float* s = src + k * stride;
    float* d = dst + k * W;
    for (int64_t p = 0; p < panels; ++p) std::memcpy(d + p * len * W, s + p * W, W * sizeof(float));
  }
}

// The packing routines of one panel width.
struct Packer {
  void (*panel)(bool, const float*, int64_t, int, int64_t, float*);
  void (*full_panels)(const float*, int64_t, int64_t, int64_t, float*);
};

template <int W>
constexpr Packer kPacker{pack_panel<W>, copy_rows_into_panels<W>};

const Packer& packer(int w) {
  switch (w) {
    case 4:
      return kPacker<4>;
    case 6:
      return kPacker<6>;
    case 8:
      return kPacker<8>;
    case 12:
      return kPacker<12>;
    case 16:
      return kPacker<16>;
    case 32:
      return kPacker<32>;
    default:  // the micro-kernels' register tiles use only the widths above
      throw std::invalid_argument("GEMM packing: unsupported panel width " + std::to_string(w));
  }
}

// Packs rows/columns [i0, i0 + count) x depth [k0, k0 + kc) of a matrix m into panels of w,
// each kc groups of w floats. The panel's short side (i) is contiguous in memory when
// `contiguous` (element (i, k) at m[k*ld + i]), otherwise its lines are strided (m[i*ld + k]).
void pack_block(bool contiguous, const float* m, int64_t ld, int64_t i0, int64_t count, int64_t k0,
                int64_t kc, int w, float* dst) {
  const Packer& pk = packer(w);
  if (contiguous) {
    const int64_t full = (count / w) * w;
    if (full > 0 && kc > 0) pk.full_panels(m + k0 * ld + i0, ld, full, kc, dst);
    dst += (full / w) * kc * w;
    i0 += full;
    count -= full;
  }
  for (int64_t p = 0; p < count; p += w) {
    const int width = static_cast<int>(std::min<int64_t>(w, count - p));
    const int64_t i = i0 + p;
    const float* src = contiguous ? m + k0 * ld + i : m + i * ld + k0;
    pk.panel(contiguous, src, ld, width, kc, dst);
    dst += kc * w;
  }
}

}  // namespace

void pack_a_block(Trans trans, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t k0,
                  int64_t kc, int mr, float* dst) {
  // op(A)(i, k) is a[i*lda + k] (no transpose: rows of the panel are strided lines) or
  // a[k*lda + i] (transpose: the panel's mr values for one k are contiguous).
  pack_block(trans == Trans::kYes, a, lda, i0, mc, k0, kc, mr, dst);
}

void pack_b_block(Trans trans, const float* b, int64_t ldb, int64_t k0, int64_t kc, int64_t j0,
                  int64_t nc, int nr, float* dst) {
  // op(B)(k, j) is b[k*ldb + j] (no transpose: nr values for one k are contiguous) or
  // b[j*ldb + k] (transpose: each column of the panel is a strided line).
  pack_block(trans == Trans::kNo, b, ldb, j0, nc, k0, kc, nr, dst);
}

}  // namespace fastkeras
