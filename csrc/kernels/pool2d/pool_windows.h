// A pooling window's extent, shared by the portable loops (pool2d.cc) and the AVX-512 file
// (ukernel_avx512_maxpool.cc). Internal linkage: each file compiles its own copy with its own
// flags, so no AVX-512 code can stand in for the portable one at link time.
#pragma once

#include <algorithm>
#include <cstdint>

namespace fastkeras {
namespace {

// The window's valid input range [lo, hi) along one axis for output position o.
inline void window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in, int64_t* lo,
                   int64_t* hi) {
  const int64_t start = o * stride - pad;
  *lo = std::max<int64_t>(start, 0);
  *hi = std::min<int64_t>(start + k, in);
}

}  // namespace
}  // namespace fastkeras
