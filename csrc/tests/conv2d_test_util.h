// Shared by the convolution kernel tests: random inputs, the input cell a tap reads, and the
// shape of a test case (input size, kernel, filters, strides, dilations and explicit padding on
// each side).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/conv2d/conv2d.h"

namespace fastkeras {
namespace conv2d_test {

inline std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

// Input cell for output (oy, ox) and tap (i, j), or false when it falls in the padding.
inline bool tap(const Conv2DShape& s, int64_t oy, int64_t ox, int64_t i, int64_t j, int64_t* iy,
                int64_t* ix) {
  *iy = oy * s.stride_h - s.pad_top + i * s.dil_h;
  *ix = ox * s.stride_w - s.pad_left + j * s.dil_w;
  return *iy >= 0 && *iy < s.h && *ix >= 0 && *ix < s.w;
}

struct Case {
  int64_t n, h, w, c, kh, kw, f, sh, sw, dh, dw, pt, pl, pb, pr;
};

inline Conv2DShape shape_of(const Case& k) {
  Conv2DShape s;
  s.n = k.n, s.h = k.h, s.w = k.w, s.c = k.c, s.kh = k.kh, s.kw = k.kw, s.f = k.f;
  s.stride_h = k.sh, s.stride_w = k.sw, s.dil_h = k.dh, s.dil_w = k.dw;
  s.pad_top = k.pt, s.pad_left = k.pl;
  s.oh = conv_output_size(k.h, k.kh, k.sh, k.dh, k.pt + k.pb);
  s.ow = conv_output_size(k.w, k.kw, k.sw, k.dw, k.pl + k.pr);
  return s;
}

}  // namespace conv2d_test
}  // namespace fastkeras
