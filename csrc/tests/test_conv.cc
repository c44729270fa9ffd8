// Depthwise convolution against a naive direct loop (double accumulation) on awkward shapes:
// strides 1/2/3, dilation, odd sizes, 1x1 kernels, kernels as large as the input, valid and
// explicit 'same' padding, depth multipliers, batch 1 and larger batches, 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/conv/conv.h"
#include "kernels/parallel.h"
#include "tests/conv2d_test_util.h"

namespace fastkeras {
namespace {

using conv2d_test::random_vec;
using conv2d_test::tap;

struct DwCase {
  int64_t n, h, w, c, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

Conv2DShape depthwise_shape(const DwCase& k) {
  Conv2DShape s;
  s.n = k.n, s.h = k.h, s.w = k.w, s.c = k.c, s.kh = k.kh, s.kw = k.kw, s.f = k.c * k.m;
  s.stride_h = k.sh, s.stride_w = k.sw, s.dil_h = k.dh, s.dil_w = k.dw;
  s.pad_top = k.pt, s.pad_left = k.pl;
  s.oh = conv_output_size(k.h, k.kh, k.sh, k.dh, k.pt + k.pb);
  s.ow = conv_output_size(k.w, k.kw, k.sw, k.dw, k.pl + k.pr);
  return s;
}

void check_depthwise(const DwCase& k, bool with_bias, uint32_t seed) {
  const Conv2DShape s = depthwise_shape(k);
  ASSERT_GT(s.oh, 0);
  ASSERT_GT(s.ow, 0);
  const int64_t m = k.m, f = s.f;
  auto x = random_vec(s.n * s.h * s.w * s.c, seed);
  auto w = random_vec(s.kh * s.kw * f, seed + 1);
  auto b = random_vec(f, seed + 2);
  auto dy = random_vec(s.n * s.oh * s.ow * f, seed + 3);
  // NaN-filled outputs: the kernel must overwrite every element.
  std::vector<float> y(dy.size(), NAN), dx(x.size(), NAN), dw(w.size(), NAN), db(f, NAN);
  depthwise_conv2d_forward(s, m, x.data(), w.data(), with_bias ? b.data() : nullptr, y.data());
  depthwise_conv2d_backward(s, m, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());

  std::vector<double> rdx(x.size(), 0), rdw(w.size(), 0), rdb(f, 0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ++ox)
        for (int64_t ch = 0; ch < s.c; ++ch)
          for (int64_t j = 0; j < m; ++j) {
            const int64_t oc = ch * m + j;
            const int64_t o = ((n * s.oh + oy) * s.ow + ox) * f + oc;
            double acc = with_bias ? b[oc] : 0.0;
            const double g = dy[o];
            rdb[oc] += g;
            for (int64_t i = 0; i < s.kh; ++i)
              for (int64_t jj = 0; jj < s.kw; ++jj) {
                int64_t iy, ix;
                if (!tap(s, oy, ox, i, jj, &iy, &ix)) continue;
                const int64_t xi = ((n * s.h + iy) * s.w + ix) * s.c + ch;
                const int64_t wi = (i * s.kw + jj) * f + oc;
                acc += double(x[xi]) * w[wi];
                rdx[xi] += g * w[wi];
                rdw[wi] += g * x[xi];
              }
            ASSERT_NEAR(y[o], acc, 1e-4)
                << "forward at " << n << "," << oy << "," << ox << "," << oc;
          }
  for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], rdx[i], 1e-3) << "dx " << i;
  for (size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], rdw[i], 2e-3) << "dw " << i;
  for (int64_t i = 0; i < f; ++i) ASSERT_NEAR(db[i], rdb[i], 1e-3) << "db " << i;
}

TEST(DepthwiseConv2D, MatchesDirectLoop) {
  const DwCase cases[] = {
      // n  h   w  c  m kh kw sh sw dh dw pt pl pb pr
      {2, 7, 9, 3, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},      // valid
      {2, 7, 9, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},      // same, multiplier 2
      {1, 8, 8, 5, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},      // TF same with stride 2
      {3, 11, 7, 2, 3, 2, 5, 3, 2, 1, 1, 0, 2, 1, 2},     // uneven kernel, strides 3/2
      {2, 9, 9, 4, 1, 3, 3, 1, 1, 2, 2, 0, 0, 0, 0},      // dilation
      {2, 9, 10, 3, 2, 3, 2, 1, 1, 2, 3, 2, 1, 2, 2},     // dilation + same
      {2, 5, 4, 7, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},      // 1x1
      {2, 5, 4, 7, 4, 1, 1, 2, 3, 1, 1, 0, 0, 0, 0},      // 1x1 strided, multiplier 4
      {2, 5, 6, 3, 1, 5, 6, 1, 1, 1, 1, 0, 0, 0, 0},      // kernel as large as the input
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},      // everything 1
      {1, 3, 3, 2, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1},      // output 1x1 with padding all round
      {17, 12, 12, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  // batch spread over threads
  };
  uint32_t seed = 11;
  for (const auto& k : cases) {
    for (bool with_bias : {false, true}) {
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        SCOPED_TRACE(testing::Message() << "case h=" << k.h << " w=" << k.w << " c=" << k.c
                                        << " m=" << k.m << " threads=" << threads);
        check_depthwise(k, with_bias, seed++);
      }
    }
  }
  set_num_threads(0);
}

TEST(DepthwiseConv2D, OptionalGradientsAreSkipped) {
  const DwCase k{2, 5, 5, 2, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0};
  const Conv2DShape s = depthwise_shape(k);
  auto x = random_vec(2 * 25 * 2, 1), w = random_vec(9 * 2, 2);
  auto dy = random_vec(2 * 9 * 2, 3);
  std::vector<float> dw(w.size(), NAN);
  depthwise_conv2d_backward(s, 1, x.data(), w.data(), dy.data(), nullptr, dw.data(), nullptr);
  for (float v : dw) EXPECT_TRUE(std::isfinite(v));
  std::vector<float> dx(x.size(), NAN);
  depthwise_conv2d_backward(s, 1, x.data(), w.data(), dy.data(), dx.data(), nullptr, nullptr);
  for (float v : dx) EXPECT_TRUE(std::isfinite(v));
}

TEST(DepthwiseConv2D, ThreadCountDoesNotChangeResults) {
  const DwCase k{8, 20, 20, 8, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
  const Conv2DShape s = depthwise_shape(k);
  auto x = random_vec(s.n * s.h * s.w * s.c, 5);
  auto w = random_vec(9 * s.f, 6);
  auto dy = random_vec(s.n * s.oh * s.ow * s.f, 7);
  std::vector<float> dw1(w.size()), dw2(w.size()), dx1(x.size()), dx2(x.size());
  set_num_threads(1);
  depthwise_conv2d_backward(s, k.m, x.data(), w.data(), dy.data(), dx1.data(), dw1.data(), nullptr);
  set_num_threads(2);
  depthwise_conv2d_backward(s, k.m, x.data(), w.data(), dy.data(), dx2.data(), dw2.data(), nullptr);
  set_num_threads(0);
  EXPECT_EQ(dx1, dx2);  // gathered: the same sums in the same order
  for (size_t i = 0; i < dw1.size(); ++i) EXPECT_NEAR(dw1[i], dw2[i], 1e-3);
}

}  // namespace
}  // namespace fastkeras
