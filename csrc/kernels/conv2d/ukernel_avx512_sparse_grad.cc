// AVX-512 inner loops of the sparse convolution gradients (sparse_grad.h). Compiled with
// AVX-512 flags only in this file; called only when the GEMM dispatches to AVX-512.
//
// accumulate: NV zmm accumulators (one per 16-float vector of the window) stay in registers
// while the nonzeros stream by, each costing NV loads and NV FMAs; the sums are added to their
// destinations once at the end. collect: a compare gives the nonzero lanes of 16 floats at a
// time, and compress packs their values and positions.
#include <immintrin.h>

#include "kernels/conv2d/sparse_grad.h"

namespace fastkeras {
namespace {

template <int NV>
void accumulate_block(const float* const* bases, const float* vals, int64_t count,
                      const int64_t* src_off, float* const* dst) {
  __m512 acc[NV];
#pragma GCC unroll 12
  for (int q = 0; q < NV; ++q) acc[q] = _mm512_setzero_ps();
  for (int64_t j = 0; j < count; ++j) {
    const float* b = bases[j];
    const __m512 v = _mm512_set1_ps(vals[j]);
#pragma GCC unroll 12
    for (int q = 0; q < NV; ++q)
      acc[q] = _mm512_fmadd_ps(v, _mm512_loadu_ps(b + src_off[q]), acc[q]);
  }
#pragma GCC unroll 12
  for (int q = 0; q < NV; ++q)
    _mm512_storeu_ps(dst[q], _mm512_add_ps(_mm512_loadu_ps(dst[q]), acc[q]));
}

using BlockFn = void (*)(const float* const*, const float*, int64_t, const int64_t*, float* const*);
constexpr BlockFn kBlocks[kSparseMaxVectors] = {
    accumulate_block<1>, accumulate_block<2>,  accumulate_block<3>,  accumulate_block<4>,
    accumulate_block<5>, accumulate_block<6>,  accumulate_block<7>,  accumulate_block<8>,
    accumulate_block<9>, accumulate_block<10>, accumulate_block<11>, accumulate_block<12>};

}  // namespace

void sparse_accumulate_avx512(const float* const* bases, const float* vals, int64_t count,
                              const int64_t* src_off, float* const* dst, int nv) {
  if (nv < 1 || nv > kSparseMaxVectors) return;
  kBlocks[nv - 1](bases, vals, count, src_off, dst);
}

int64_t count_nonzeros_avx512(const float* x, int64_t n) {
  const __m512 zero = _mm512_setzero_ps();
  int64_t count = 0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    count += __builtin_popcount(_mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), zero, _CMP_NEQ_UQ));
  for (; i < n; ++i) count += !(x[i] == 0.0f);
  return count;
}

int64_t collect_nonzeros_avx512(const float* row, int64_t n, int32_t* idx, float* val) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int64_t count = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t left = n - i;
    const __mmask16 in = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1u);
    const __m512 x = _mm512_maskz_loadu_ps(in, row + i);
    // Not-equal, unordered: a NaN counts as nonzero, as in the generic loop.
    const __mmask16 nz = _mm512_mask_cmp_ps_mask(in, x, zero, _CMP_NEQ_UQ);
    if (nz == 0) continue;
    const int k = __builtin_popcount(nz);
    const __mmask16 first_k = static_cast<__mmask16>((1u << k) - 1u);
    const __m512i pos = _mm512_add_epi32(lanes, _mm512_set1_epi32(static_cast<int32_t>(i)));
    _mm512_mask_storeu_ps(val + count, first_k, _mm512_maskz_compress_ps(nz, x));
    _mm512_mask_storeu_epi32(idx + count, first_k, _mm512_maskz_compress_epi32(nz, pos));
    count += k;
  }
  return count;
}

}  // namespace fastkeras
