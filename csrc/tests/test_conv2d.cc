// conv2d and pooling kernels against naive direct loops (double accumulation) on awkward
// shapes: strides, dilation, padding, odd sizes, 1x1 kernels, kernels as large as the input,
// batches larger than one im2col tile.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/conv2d/conv2d.h"
#include "kernels/parallel.h"
#include "kernels/pool2d/pool2d.h"
#include "tests/conv2d_test_util.h"

namespace fastkeras {
namespace {

using conv2d_test::Case;
using conv2d_test::random_vec;
using conv2d_test::reference_conv;
using conv2d_test::shape_of;
using conv2d_test::tap;

void check_conv(const Case& k, bool relu, uint32_t seed) {
  const Conv2DShape s = shape_of(k);
  ASSERT_GT(s.oh, 0);
  ASSERT_GT(s.ow, 0);
  auto x = random_vec(s.n * s.h * s.w * s.c, seed);
  auto w = random_vec(s.kh * s.kw * s.c * s.f, seed + 1);
  auto b = random_vec(s.f, seed + 2);
  auto dy = random_vec(s.n * s.oh * s.ow * s.f, seed + 3);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
  conv2d_forward(s, x.data(), w.data(), b.data(), relu, y.data());
  conv2d_backward(s, x.data(), w.data(), y.data(), dy.data(), relu, dx.data(), dw.data(),
                  db.data());

  const auto z = reference_conv(s, x, w, b.data(), relu);
  std::vector<double> rdx(x.size(), 0), rdw(w.size(), 0), rdb(b.size(), 0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ++ox)
        for (int64_t f = 0; f < s.f; ++f) {
          const int64_t o = ((n * s.oh + oy) * s.ow + ox) * s.f + f;
          const double acc = z[o];
          ASSERT_NEAR(y[o], acc, 1e-4) << "forward at " << n << "," << oy << "," << ox << "," << f;
          const double g = (relu && !(acc > 0)) ? 0.0 : dy[o];
          rdb[f] += g;
          for (int64_t i = 0; i < s.kh; ++i)
            for (int64_t j = 0; j < s.kw; ++j) {
              int64_t iy, ix;
              if (!tap(s, oy, ox, i, j, &iy, &ix)) continue;
              for (int64_t c = 0; c < s.c; ++c) {
                const int64_t xi = ((n * s.h + iy) * s.w + ix) * s.c + c;
                const int64_t wi = ((i * s.kw + j) * s.c + c) * s.f + f;
                rdx[xi] += g * w[wi];
                rdw[wi] += g * x[xi];
              }
            }
        }
  for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], rdx[i], 1e-3) << "dx " << i;
  for (size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], rdw[i], 1e-3) << "dw " << i;
  for (size_t i = 0; i < db.size(); ++i) ASSERT_NEAR(db[i], rdb[i], 1e-3) << "db " << i;
}

TEST(Conv2D, MatchesDirectConvolution) {
  const Case cases[] = {
      // n  h  w  c kh kw  f sh sw dh dw pt pl pb pr
      {2, 7, 9, 3, 3, 3, 5, 1, 1, 1, 1, 0, 0, 0, 0},     // valid
      {2, 7, 9, 3, 3, 3, 5, 1, 1, 1, 1, 1, 1, 1, 1},     // same
      {1, 8, 8, 2, 3, 3, 4, 2, 2, 1, 1, 0, 0, 1, 1},     // TF same with stride 2: extra at end
      {3, 11, 6, 1, 2, 5, 3, 3, 2, 1, 1, 0, 2, 1, 2},    // uneven kernel, strides, padding
      {2, 9, 9, 3, 3, 3, 2, 1, 1, 2, 2, 0, 0, 0, 0},     // dilation
      {2, 9, 9, 3, 3, 3, 2, 1, 1, 2, 3, 2, 3, 2, 3},     // dilation + same
      {2, 5, 4, 7, 1, 1, 6, 1, 1, 1, 1, 0, 0, 0, 0},     // 1x1 pointwise (no im2col)
      {2, 5, 4, 7, 1, 1, 6, 2, 2, 1, 1, 0, 0, 0, 0},     // 1x1 strided
      {2, 5, 6, 3, 5, 6, 4, 1, 1, 1, 1, 0, 0, 0, 0},     // kernel as large as the input
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     // everything 1
      {9, 64, 64, 16, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  // batch spans several im2col tiles
  };
  uint32_t seed = 1;
  for (const auto& k : cases) {
    for (bool relu : {false, true}) {
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        check_conv(k, relu, seed++);
      }
    }
  }
  set_num_threads(0);
}

TEST(Conv2D, OptionalGradientsAreSkipped) {
  Case k{2, 5, 5, 2, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0};
  Conv2DShape s = shape_of(k);
  auto x = random_vec(2 * 25 * 2, 1), w = random_vec(9 * 2 * 3, 2), dy = random_vec(2 * 9 * 3, 3);
  std::vector<float> dw(w.size());
  conv2d_backward(s, x.data(), w.data(), nullptr, dy.data(), false, nullptr, dw.data(), nullptr);
  double sum = 0;
  for (float v : dw) sum += std::fabs(v);
  EXPECT_GT(sum, 0.0);
}

TEST(Conv2D, KeptColumnsGiveTheSameGradients) {
  // The forward's im2col handed to the backward pass must give exactly what rebuilding it does;
  // shapes that do not use im2col (1x1, few channels) leave the buffer alone and say so.
  const Case cases[] = {
      {3, 9, 8, 6, 3, 3, 20, 1, 1, 1, 1, 1, 1, 1, 1},  // im2col
      {2, 11, 7, 5, 2, 3, 3, 2, 1, 2, 1, 1, 0, 1, 2},  // strides, dilation, padding
      {2, 5, 4, 7, 1, 1, 6, 1, 1, 1, 1, 0, 0, 0, 0},   // 1x1 pointwise: no im2col
      {2, 6, 6, 1, 3, 3, 4, 1, 1, 1, 1, 0, 0, 0, 0},   // one channel: direct kernels on AVX-512
  };
  for (const auto& k : cases) {
    const Conv2DShape s = shape_of(k);
    const int64_t rows = s.n * s.oh * s.ow, width = s.kh * s.kw * s.c;
    auto x = random_vec(s.n * s.h * s.w * s.c, 21), w = random_vec(width * s.f, 22);
    auto b = random_vec(s.f, 23), dy = random_vec(rows * s.f, 24);
    std::vector<float> y(dy.size()), y2(dy.size()), col(rows * width, -7.0f);
    conv2d_forward(s, x.data(), w.data(), b.data(), true, y.data());
    const bool filled =
        conv2d_forward(s, x.data(), w.data(), b.data(), true, y2.data(), col.data());
    EXPECT_EQ(y, y2);
    const bool pointwise = k.kh == 1 && k.kw == 1 && k.sh == 1 && k.sw == 1;
    if (pointwise) {
      EXPECT_FALSE(filled);
    }
    if (!filled) {
      EXPECT_EQ(col, std::vector<float>(rows * width, -7.0f)) << "an unused buffer was written";
      continue;
    }
    std::vector<float> dx(x.size()), dw(w.size()), db(b.size());
    std::vector<float> dx2(x.size()), dw2(w.size()), db2(b.size());
    conv2d_backward(s, x.data(), w.data(), y.data(), dy.data(), true, dx.data(), dw.data(),
                    db.data());
    conv2d_backward(s, x.data(), w.data(), y.data(), dy.data(), true, dx2.data(), dw2.data(),
                    db2.data(), col.data());
    EXPECT_EQ(dx, dx2);
    EXPECT_EQ(dw, dw2);
    EXPECT_EQ(db, db2);
  }
}

TEST(Conv2D, OutputSize) {
  EXPECT_EQ(conv_output_size(32, 3, 1, 1, 0), 30);
  EXPECT_EQ(conv_output_size(32, 3, 1, 1, 2), 32);
  EXPECT_EQ(conv_output_size(28, 3, 2, 1, 0), 13);
  EXPECT_EQ(conv_output_size(5, 3, 1, 2, 0), 1);
  EXPECT_EQ(conv_output_size(2, 3, 1, 1, 0), 0);
}

void check_pool(int64_t n, int64_t h, int64_t w, int64_t c, int64_t ph, int64_t pw, int64_t sh,
                int64_t sw, int64_t pt, int64_t pl, int64_t pb, int64_t pr, uint32_t seed) {
  Pool2DShape s;
  s.n = n, s.h = h, s.w = w, s.c = c, s.ph = ph, s.pw = pw, s.stride_h = sh, s.stride_w = sw;
  s.pad_top = pt, s.pad_left = pl;
  s.oh = conv_output_size(h, ph, sh, 1, pt + pb);
  s.ow = conv_output_size(w, pw, sw, 1, pl + pr);
  auto x = random_vec(n * h * w * c, seed);
  auto dy = random_vec(n * s.oh * s.ow * c, seed + 1);
  std::vector<float> ymax(dy.size()), yavg(dy.size()), dxmax(x.size()), dxavg(x.size());
  std::vector<int32_t> arg(dy.size());
  maxpool2d_forward(s, x.data(), ymax.data(), arg.data());
  maxpool2d_backward(s, dy.data(), arg.data(), dxmax.data());
  avgpool2d_forward(s, x.data(), yavg.data());
  avgpool2d_backward(s, dy.data(), dxavg.data());
  std::vector<double> rmax(x.size(), 0), ravg(x.size(), 0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ++ox)
        for (int64_t ch = 0; ch < c; ++ch) {
          double best = -INFINITY, sum = 0;
          int64_t best_i = -1, cells = 0;
          for (int64_t i = 0; i < ph; ++i)
            for (int64_t j = 0; j < pw; ++j) {
              const int64_t iy = oy * sh - pt + i, ix = ox * sw - pl + j;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const int64_t xi = ((b * h + iy) * w + ix) * c + ch;
              if (x[xi] > best) best = x[xi], best_i = xi;
              sum += x[xi];
              ++cells;
            }
          const int64_t o = ((b * s.oh + oy) * s.ow + ox) * c + ch;
          ASSERT_EQ(ymax[o], static_cast<float>(best));
          ASSERT_NEAR(yavg[o], sum / cells, 1e-5);
          rmax[best_i] += dy[o];
          for (int64_t i = 0; i < ph; ++i)
            for (int64_t j = 0; j < pw; ++j) {
              const int64_t iy = oy * sh - pt + i, ix = ox * sw - pl + j;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              ravg[((b * h + iy) * w + ix) * c + ch] += dy[o] / cells;
            }
        }
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(dxmax[i], rmax[i], 1e-5) << "max dx " << i;
    ASSERT_NEAR(dxavg[i], ravg[i], 1e-5) << "avg dx " << i;
  }
}

TEST(Pool2D, MaxAndAverageMatchNaiveLoops) {
  check_pool(2, 6, 6, 3, 2, 2, 2, 2, 0, 0, 0, 0, 1);     // the usual 2x2
  check_pool(2, 7, 5, 4, 2, 2, 2, 2, 0, 0, 1, 1, 2);     // same padding, odd sizes
  check_pool(1, 10, 10, 16, 3, 3, 3, 3, 0, 0, 0, 0, 3);  // the notes' 3x3 non-overlapping
  check_pool(3, 9, 8, 2, 3, 2, 1, 2, 1, 0, 1, 1, 4);     // overlapping windows
  check_pool(1, 4, 4, 1, 4, 4, 1, 1, 0, 0, 0, 0, 5);     // window as large as the input
  check_pool(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 6);
}

TEST(Pool2D, MaxTiesGoToTheFirstCell) {
  Pool2DShape s;
  s.n = 1, s.h = 2, s.w = 2, s.c = 1, s.ph = 2, s.pw = 2, s.stride_h = 2, s.stride_w = 2;
  s.oh = 1, s.ow = 1;
  std::vector<float> x = {1, 3, 3, 0}, y(1), dx(4);
  std::vector<int32_t> arg(1);
  maxpool2d_forward(s, x.data(), y.data(), arg.data());
  EXPECT_EQ(y[0], 3.0f);
  EXPECT_EQ(arg[0], 1);
  std::vector<float> dy = {2.0f};
  maxpool2d_backward(s, dy.data(), arg.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<float>{0, 2, 0, 0}));
}

}  // namespace
}  // namespace fastkeras
