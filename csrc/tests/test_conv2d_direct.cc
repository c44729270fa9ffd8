// The direct small-channel convolution (kernels/conv2d/direct_conv.h) against naive loops in
// double precision: 1-4 input channels, filter counts around the 16-lane vectors (1, 5, 16, 17,
// 33, 70), rows shorter and longer than the 8-pixel blocks, padding on every side, strides,
// dilation, kernels as large as the input, several threads.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/conv2d/conv2d.h"
#include "kernels/conv2d/direct_conv.h"
#include "kernels/parallel.h"
#include "tests/conv2d_test_util.h"

namespace fastkeras {
namespace {

using conv2d_test::Case;
using conv2d_test::random_vec;
using conv2d_test::reference_conv;
using conv2d_test::shape_of;
using conv2d_test::tap;

void check_direct(const Case& k, bool relu, int threads, uint32_t seed) {
  const Conv2DShape s = shape_of(k);
  ASSERT_GT(s.oh, 0);
  ASSERT_GT(s.ow, 0);
  ASSERT_TRUE(direct_conv_applicable(s));
  set_num_threads(threads);
  const int64_t taps = s.kh * s.kw * s.c;
  auto x = random_vec(s.n * s.h * s.w * s.c, seed);
  auto w = random_vec(taps * s.f, seed + 1);
  auto b = random_vec(s.f, seed + 2);
  auto dy = random_vec(s.n * s.oh * s.ow * s.f, seed + 3);
  std::vector<float> y(dy.size(), std::numeric_limits<float>::quiet_NaN());
  std::vector<float> dw(w.size(), 7.0f), db(b.size(), 7.0f);  // overwritten, not accumulated
  direct_conv_forward(s, x.data(), w.data(), b.data(), relu, y.data());
  direct_conv_weight_grad(s, x.data(), relu ? y.data() : nullptr, dy.data(), dw.data(), db.data());

  const auto z = reference_conv(s, x, w, b.data(), false);
  std::vector<double> rdw(w.size(), 0.0), rdb(b.size(), 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ++ox)
        for (int64_t f = 0; f < s.f; ++f) {
          const int64_t o = ((n * s.oh + oy) * s.ow + ox) * s.f + f;
          const double want = relu && z[o] < 0 ? 0.0 : z[o];
          ASSERT_NEAR(y[o], want, 1e-4) << "forward at " << n << "," << oy << "," << ox << "," << f;
          const double g = relu && !(y[o] > 0) ? 0.0 : dy[o];
          rdb[f] += g;
          for (int64_t i = 0; i < s.kh; ++i)
            for (int64_t j = 0; j < s.kw; ++j) {
              int64_t iy, ix;
              if (!tap(s, oy, ox, i, j, &iy, &ix)) continue;
              for (int64_t c = 0; c < s.c; ++c)
                rdw[((i * s.kw + j) * s.c + c) * s.f + f] +=
                    g * x[((n * s.h + iy) * s.w + ix) * s.c + c];
            }
        }
  for (size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], rdw[i], 1e-3) << "dw[" << i << "]";
  for (size_t i = 0; i < db.size(); ++i) ASSERT_NEAR(db[i], rdb[i], 1e-3) << "db[" << i << "]";
  set_num_threads(0);
}

TEST(DirectConv2D, MatchesNaiveLoops) {
  if (!direct_conv_applicable(shape_of({1, 4, 4, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0}))) {
    GTEST_SKIP() << "the direct kernels need AVX-512";
  }
  const Case cases[] = {
      // n, h, w, c, kh, kw, f, sh, sw, dh, dw, pt, pl, pb, pr
      {3, 28, 28, 1, 3, 3, 32, 1, 1, 1, 1, 0, 0, 0, 0},  // the benchmark's first layer
      {2, 28, 28, 1, 3, 3, 32, 1, 1, 1, 1, 1, 1, 1, 1},  // same padding
      {2, 9, 13, 3, 3, 3, 17, 1, 1, 1, 1, 1, 1, 1, 1},   // RGB, one lane past a vector
      {2, 7, 5, 2, 3, 3, 5, 1, 1, 1, 1, 0, 0, 0, 0},     // rows shorter than a block
      {1, 6, 30, 4, 3, 3, 70, 1, 1, 1, 1, 2, 1, 0, 3},   // uneven padding, 70 filters
      {2, 11, 12, 3, 5, 2, 33, 2, 3, 1, 1, 1, 2, 2, 1},  // uneven kernel and strides
      {2, 12, 16, 1, 3, 3, 16, 1, 1, 2, 3, 2, 3, 2, 3},  // dilation with padding
      {2, 9, 9, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     // 1x1, one filter
      {2, 5, 6, 2, 5, 6, 16, 1, 1, 1, 1, 0, 0, 0, 0},    // kernel as large as the input
      {1, 3, 3, 1, 5, 5, 8, 1, 1, 1, 1, 2, 2, 2, 2},     // every pixel reaches the padding
      {1, 10, 40, 3, 7, 7, 64, 1, 1, 1, 1, 3, 3, 3, 3},  // 147 taps: many tap blocks
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     // everything 1
  };
  uint32_t seed = 1;
  for (const auto& k : cases) {
    for (bool relu : {false, true}) {
      for (int threads : {1, 2, 3}) {
        SCOPED_TRACE(::testing::Message() << "case n=" << k.n << " h=" << k.h << " w=" << k.w
                                          << " c=" << k.c << " k=" << k.kh << "x" << k.kw << " f="
                                          << k.f << " relu=" << relu << " threads=" << threads);
        check_direct(k, relu, threads, seed += 4);
      }
    }
  }
}

TEST(DirectConv2D, UsedByConv2DWithTheSameResults) {
  // conv2d_forward/backward dispatch to the direct kernels for few channels; dx still comes
  // from the GEMM path and must agree with a finite set of reference values.
  Case k{2, 8, 10, 2, 3, 3, 20, 1, 1, 1, 1, 1, 1, 1, 1};
  const Conv2DShape s = shape_of(k);
  auto x = random_vec(s.n * s.h * s.w * s.c, 3), w = random_vec(s.kh * s.kw * s.c * s.f, 4);
  auto b = random_vec(s.f, 5), dy = random_vec(s.n * s.oh * s.ow * s.f, 6);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
  conv2d_forward(s, x.data(), w.data(), b.data(), true, y.data());
  conv2d_backward(s, x.data(), w.data(), y.data(), dy.data(), true, dx.data(), dw.data(),
                  db.data());
  const auto z = reference_conv(s, x, w, b.data(), false);
  std::vector<double> rdx(x.size(), 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ++ox)
        for (int64_t f = 0; f < s.f; ++f) {
          const int64_t o = ((n * s.oh + oy) * s.ow + ox) * s.f + f;
          ASSERT_NEAR(y[o], z[o] > 0 ? z[o] : 0.0, 1e-4);
          const double g = z[o] > 0 ? dy[o] : 0.0;
          for (int64_t i = 0; i < s.kh; ++i)
            for (int64_t j = 0; j < s.kw; ++j) {
              const int64_t iy = oy - s.pad_top + i, ix = ox - s.pad_left + j;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              for (int64_t c = 0; c < s.c; ++c)
                rdx[((n * s.h + iy) * s.w + ix) * s.c + c] +=
                    g * w[((i * s.kw + j) * s.c + c) * s.f + f];
            }
        }
  for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], rdx[i], 1e-3) << "dx[" << i << "]";
}

TEST(DirectConv2D, NullGradientsAreSkipped) {
  Case k{1, 6, 6, 1, 3, 3, 4, 1, 1, 1, 1, 0, 0, 0, 0};
  const Conv2DShape s = shape_of(k);
  auto x = random_vec(36, 1), dy = random_vec(s.oh * s.ow * s.f, 2);
  std::vector<float> dw(9 * 4, 0.0f), db(4, 0.0f), dw2(9 * 4), db2(4);
  direct_conv_weight_grad(s, x.data(), nullptr, dy.data(), dw.data(), nullptr);
  direct_conv_weight_grad(s, x.data(), nullptr, dy.data(), nullptr, db.data());
  direct_conv_weight_grad(s, x.data(), nullptr, dy.data(), dw2.data(), db2.data());
  if (!direct_conv_applicable(s)) GTEST_SKIP() << "the direct kernels need AVX-512";
  EXPECT_EQ(dw, dw2);
  EXPECT_EQ(db, db2);
}

}  // namespace
}  // namespace fastkeras
