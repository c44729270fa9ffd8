// Portable 4x8 micro-kernel: plain C++ the compiler vectorizes for the baseline ISA. Used on
// CPUs without AVX2 and on non-x86 builds.
#include <algorithm>

#include "kernels/gemm/ukernel.h"

namespace fastkeras {
namespace {

constexpr int kMr = 4;
constexpr int kNr = 8;

void ukernel_generic_4x8(int64_t kc, const float* ap, int64_t a_rs, int64_t a_stride,
                         const float* bp, int64_t b_stride, float* c, int64_t ldc, int m, int n,
                         const UkernelParams& p) {
  // Rows past m repeat row m - 1 (never stored), so an in-place panel is not read past its end.
  int64_t row_off[kMr];
  for (int i = 0; i < kMr; ++i) row_off[i] = std::min(i, m - 1) * a_rs;
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < kMr; ++i) {
      const float a = ap[row_off[i]];
      for (int j = 0; j < kNr; ++j) acc[i][j] += a * bp[j];
    }
    ap += a_stride;
    bp += b_stride;
  }
  for (int i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < n; ++j) {
      float v = p.alpha * acc[i][j];
      if (p.beta != 0.0f) v += p.beta * row[j];
      if (p.bias) v += p.bias[j];
      if (p.relu && v < 0.0f) v = 0.0f;
      row[j] = v;
    }
  }
}

}  // namespace

const GemmKernelInfo& gemm_kernel_generic_4x8() {
  static const GemmKernelInfo info{"generic_4x8", kMr, kNr, 256, 512, 1024, ukernel_generic_4x8};
  return info;
}

}  // namespace fastkeras
