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

// act(conv(x, w) + bias) in double precision by direct loops; bias may be null.
inline std::vector<double> reference_conv(const Conv2DShape& s, const std::vector<float>& x,
                                          const std::vector<float>& w, const float* bias,
                                          bool relu) {
  std::vector<double> y(static_cast<size_t>(s.n * s.oh * s.ow * s.f));
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ++ox)
        for (int64_t f = 0; f < s.f; ++f) {
          double acc = bias ? bias[f] : 0.0;
          for (int64_t i = 0; i < s.kh; ++i)
            for (int64_t j = 0; j < s.kw; ++j) {
              int64_t iy, ix;
              if (!tap(s, oy, ox, i, j, &iy, &ix)) continue;
              for (int64_t c = 0; c < s.c; ++c)
                acc += double(x[((n * s.h + iy) * s.w + ix) * s.c + c]) *
                       w[((i * s.kw + j) * s.c + c) * s.f + f];
            }
          y[((n * s.oh + oy) * s.ow + ox) * s.f + f] = relu && acc < 0 ? 0.0 : acc;
        }
  return y;
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
