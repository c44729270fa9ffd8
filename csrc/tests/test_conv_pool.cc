// The fused Conv2D(relu) + MaxPooling2D(2) (kernels/conv2d/conv_pool.h) against naive loops in
// double precision: odd sizes (a row and column outside every window), 1-4 input channels,
// filter counts around the 16-lane vectors, no bias, one and two threads; ties keep the first
// cell as maxpool2d does; and the shapes it declines.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/conv2d/conv2d.h"
#include "kernels/conv2d/conv_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/parallel.h"
#include "tests/conv2d_test_util.h"

namespace fastkeras {
namespace {

using conv2d_test::random_vec;
using conv2d_test::reference_conv;

Conv2DShape shape(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, int64_t f) {
  Conv2DShape s;
  s.n = n, s.h = h, s.w = w, s.c = c, s.kh = k, s.kw = k, s.f = f;
  s.oh = h - k + 1, s.ow = w - k + 1;
  return s;
}

void check(const Conv2DShape& s, bool use_bias, uint32_t seed) {
  if (!conv_relu_maxpool_applicable(s)) GTEST_SKIP() << "no AVX-512: the fused path is unused";
  const int64_t ph = s.oh / 2, pw = s.ow / 2, taps = s.kh * s.kw * s.c;
  auto x = random_vec(s.n * s.h * s.w * s.c, seed);
  auto w = random_vec(taps * s.f, seed + 1);
  auto b = random_vec(s.f, seed + 2);
  auto dy = random_vec(s.n * ph * pw * s.f, seed + 3);
  // The reference: the convolution's relu output, its 2x2 maxima (first cell wins ties), and
  // the gradients through them.
  const auto z = reference_conv(s, x, w, use_bias ? b.data() : nullptr, true);
  std::vector<double> want_y(dy.size()), want_dw(taps * s.f, 0.0), want_db(s.f, 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t py = 0; py < ph; ++py)
      for (int64_t px = 0; px < pw; ++px)
        for (int64_t f = 0; f < s.f; ++f) {
          int64_t by = 2 * py, bx = 2 * px;
          double best = z[((n * s.oh + by) * s.ow + bx) * s.f + f];
          for (int a = 1; a < 4; ++a) {
            const int64_t cy = 2 * py + a / 2, cx = 2 * px + a % 2;
            const double v = z[((n * s.oh + cy) * s.ow + cx) * s.f + f];
            if (v > best) best = v, by = cy, bx = cx;
          }
          const int64_t o = ((n * ph + py) * pw + px) * s.f + f;
          want_y[o] = best;
          if (!(best > 0)) continue;
          want_db[f] += dy[o];
          for (int64_t i = 0; i < s.kh; ++i)
            for (int64_t j = 0; j < s.kw; ++j)
              for (int64_t c = 0; c < s.c; ++c)
                want_dw[((i * s.kw + j) * s.c + c) * s.f + f] +=
                    dy[o] * x[((n * s.h + by + i) * s.w + bx + j) * s.c + c];
        }
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    set_num_threads(threads);
    std::vector<float> y(dy.size()), dw(w.size(), 7.0f), db(s.f, 7.0f);
    std::vector<int32_t> which(dy.size(), -1);
    conv_relu_maxpool_forward(s, x.data(), w.data(), use_bias ? b.data() : nullptr, y.data(),
                              which.data());
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], want_y[i], 1e-5) << "y " << i;
    conv_relu_maxpool_backward(s, x.data(), y.data(), which.data(), dy.data(), dw.data(),
                               db.data());
    for (size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], want_dw[i], 1e-4) << "dw " << i;
    for (int64_t f = 0; f < s.f; ++f) ASSERT_NEAR(db[f], want_db[f], 1e-4) << "db " << f;
  }
  set_num_threads(0);
}

TEST(ConvReluMaxPool, FirstLayerOfTheCnn) { check(shape(4, 28, 28, 1, 3, 32), true, 1); }
TEST(ConvReluMaxPool, OddSizesAndFilterTails) {
  check(shape(3, 12, 11, 3, 3, 17), true, 2);  // 10x9 -> 5x4: the last column is left out
  check(shape(2, 9, 10, 2, 2, 33), false, 3);  // 8x9 -> 4x4
}
TEST(ConvReluMaxPool, FourChannelsFiveByFive) { check(shape(2, 13, 13, 4, 5, 16), true, 4); }
TEST(ConvReluMaxPool, SingleWindow) { check(shape(5, 4, 4, 1, 3, 1), true, 5); }

TEST(ConvReluMaxPool, TiesKeepTheFirstCell) {
  const Conv2DShape s = shape(1, 6, 6, 1, 3, 16);
  if (!conv_relu_maxpool_applicable(s)) GTEST_SKIP() << "no AVX-512";
  std::vector<float> x(36, 1.0f), w(9 * 16, 0.1f), y(4 * 16);
  std::vector<int32_t> which(4 * 16, -1);
  conv_relu_maxpool_forward(s, x.data(), w.data(), nullptr, y.data(), which.data());
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_NEAR(y[i], 0.9f, 1e-6);
    EXPECT_EQ(which[i], 0);
  }
}

TEST(ConvReluMaxPool, NanAnywhereInAWindowWins) {
  const Conv2DShape s = shape(1, 6, 6, 1, 3, 16);
  if (!conv_relu_maxpool_applicable(s)) GTEST_SKIP() << "no AVX-512";
  // A NaN pixel at (0, 3) makes the convolution outputs (0, 1), (0, 2) and (0, 3) NaN: the
  // second cell of window 0 and the first of window 1. The lower windows see none.
  std::vector<float> x(36, 1.0f), w(9 * 16, 0.1f), y(4 * 16);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  std::vector<int32_t> which(4 * 16, -1);
  conv_relu_maxpool_forward(s, x.data(), w.data(), nullptr, y.data(), which.data());
  for (int64_t f = 0; f < 16; ++f) {
    EXPECT_TRUE(std::isnan(y[f])) << f;
    EXPECT_EQ(which[f], 1) << f;
    EXPECT_TRUE(std::isnan(y[16 + f])) << f;
    EXPECT_EQ(which[16 + f], 0) << f;
    EXPECT_NEAR(y[32 + f], 0.9f, 1e-6);
    EXPECT_NEAR(y[48 + f], 0.9f, 1e-6);
  }
}

TEST(ConvReluMaxPool, DeclinesOtherShapes) {
  Conv2DShape wide = shape(1, 8, 8, 16, 3, 8);  // 16 channels: not a direct-convolution shape
  EXPECT_FALSE(conv_relu_maxpool_applicable(wide));
  Conv2DShape strided = shape(1, 9, 9, 1, 3, 8);
  strided.stride_h = strided.stride_w = 2, strided.oh = strided.ow = 4;
  EXPECT_FALSE(conv_relu_maxpool_applicable(strided));
  EXPECT_FALSE(conv_relu_maxpool_applicable(shape(1, 3, 3, 1, 3, 8)));  // a 1x1 output
  EXPECT_EQ(conv_relu_maxpool_applicable(shape(1, 8, 8, 1, 3, 8)), isa_supported(Isa::kAvx512));
}

}  // namespace
}  // namespace fastkeras
