// The micro-kernel contract shared by every ISA's GEMM micro-kernel, and the block sizes each
// one is used with. A micro-kernel computes one MR x NR tile of C from packed panels:
//
//   C[0:MR, 0:NR] = act(alpha * Ap * Bp + beta * C + bias)
//
// Ap: element (i, k) of the A micro-panel is ap[i * a_rs + k * a_stride]. A packed panel has
//     a_rs = 1, a_stride = MR; op(A) = A^T read in place has a_rs = 1, a_stride = lda; A read in
//     place row-major has a_rs = lda, a_stride = 1, and then rows m..MR-1 are never read (the
//     kernel repeats row m - 1 in their place), so an edge panel needs no padding.
// Bp: kc steps of NR floats (a row of the B micro-panel per step), successive steps `b_stride`
//     floats apart: NR for a packed panel, or ldb when B is read in place.
// Only the top-left m x n of the tile (m <= MR, n <= NR) is read and written: the packed
// panels are zero-padded, and edge tiles store under a mask. beta == 0 means C is not read.
// bias (n floats) may be null. Activation is applied after the bias; relu keeps NaN as NaN.
#pragma once

#include <cstdint>

namespace fastkeras {

struct UkernelParams {
  float alpha;
  float beta;
  const float* bias;  // NR floats or null
  bool relu;
};

using UkernelFn = void (*)(int64_t kc, const float* ap, int64_t a_rs, int64_t a_stride,
                           const float* bp, int64_t b_stride, float* c, int64_t ldc, int m, int n,
                           const UkernelParams& p);

// A micro-kernel and the cache blocking that suits it.
struct GemmKernelInfo {
  const char* name;
  int mr, nr;  // register tile
  int64_t kc;  // depth of a packed block: A micro-panel (MR x kc) stays in L1
  int64_t mc;  // rows of op(A) packed at once (kept in L3)
  int64_t nc;  // columns of op(B) packed at once (kept in L2)
  UkernelFn fn;
};

const GemmKernelInfo& gemm_kernel_generic_4x8();
#if defined(FASTKERAS_X86)
const GemmKernelInfo& gemm_kernel_avx2_6x16();
const GemmKernelInfo& gemm_kernel_avx512_12x32();
#endif

}  // namespace fastkeras
