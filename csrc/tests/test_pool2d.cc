// Max pooling's forward (channel chunks of 16 and their tails) and backward (one pass over
// disjoint windows, scatter-add over overlapping ones) against naive loops on awkward shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/conv2d/conv2d.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"
#include "kernels/pool2d/pool2d.h"

namespace fastkeras {
namespace {

struct PoolCase {
  int64_t n, h, w, c, ph, pw, sh, sw, pt, pl, pb, pr;
};

Pool2DShape pool_shape(const PoolCase& k) {
  Pool2DShape s;
  s.n = k.n, s.h = k.h, s.w = k.w, s.c = k.c, s.ph = k.ph, s.pw = k.pw;
  s.stride_h = k.sh, s.stride_w = k.sw, s.pad_top = k.pt, s.pad_left = k.pl;
  s.oh = conv_output_size(k.h, k.ph, k.sh, 1, k.pt + k.pb);
  s.ow = conv_output_size(k.w, k.pw, k.sw, 1, k.pl + k.pr);
  return s;
}

void check_max_pool(const PoolCase& k, int threads, uint32_t seed) {
  const Pool2DShape s = pool_shape(k);
  set_num_threads(threads);
  std::mt19937 rng(seed);
  // Few distinct values, so ties are common and the first-cell rule is exercised.
  std::uniform_int_distribution<int> d(-3, 3);
  std::vector<float> x(static_cast<size_t>(s.n * s.h * s.w * s.c)), dy(s.n * s.oh * s.ow * s.c);
  for (auto& v : x) v = static_cast<float>(d(rng));
  for (auto& v : dy) v = static_cast<float>(d(rng)) + 0.25f;
  std::vector<float> y(dy.size()), dx(x.size(), std::numeric_limits<float>::quiet_NaN());
  std::vector<int32_t> arg(dy.size(), 12345);
  maxpool2d_forward(s, x.data(), y.data(), arg.data());
  EXPECT_TRUE(maxpool2d_backward(s, dy.data(), arg.data(), dx.data()));

  std::vector<double> rdx(x.size(), 0.0);
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ++ox)
        for (int64_t ch = 0; ch < s.c; ++ch) {
          float best = -std::numeric_limits<float>::infinity();
          int64_t best_i = -1;
          for (int64_t i = 0; i < s.ph; ++i)
            for (int64_t j = 0; j < s.pw; ++j) {
              const int64_t iy = oy * s.stride_h - s.pad_top + i;
              const int64_t ix = ox * s.stride_w - s.pad_left + j;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              const int64_t xi = (iy * s.w + ix) * s.c + ch;
              if (best_i < 0 || x[b * s.h * s.w * s.c + xi] > best) {
                best = x[b * s.h * s.w * s.c + xi];
                best_i = xi;
              }
            }
          const int64_t o = ((b * s.oh + oy) * s.ow + ox) * s.c + ch;
          ASSERT_EQ(y[o], best) << "y at " << o;
          ASSERT_EQ(arg[o], best_i) << "argmax at " << o;
          rdx[b * s.h * s.w * s.c + best_i] += dy[o];
        }
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(dx[i], static_cast<float>(rdx[i])) << "dx " << i;
  set_num_threads(0);
}

TEST(MaxPool2D, MatchesNaiveLoops) {
  const PoolCase cases[] = {
      // n, h, w, c, ph, pw, sh, sw, pt, pl, pb, pr
      {4, 26, 26, 32, 2, 2, 2, 2, 0, 0, 0, 0},  // the benchmark's first pooling: exact tiling
      {4, 11, 11, 64, 2, 2, 2, 2, 0, 0, 0, 0},  // the second: last row/column in no window
      {2, 7, 9, 17, 2, 2, 2, 2, 0, 0, 1, 1},    // same padding, a chunk and one channel
      {2, 6, 6, 1, 2, 2, 2, 2, 0, 0, 0, 0},     // one channel
      {2, 9, 8, 15, 2, 3, 3, 4, 0, 0, 0, 0},    // stride larger than the window: gaps
      {1, 10, 10, 33, 3, 3, 3, 3, 1, 1, 1, 1},  // 3x3 with padding on every side
      {3, 9, 8, 16, 3, 2, 1, 2, 1, 0, 1, 1},    // overlapping windows: scatter-add
      {1, 5, 4, 3, 5, 4, 1, 1, 0, 0, 0, 0},     // window as large as the input
      {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
  };
  uint32_t seed = 11;
  // Every ISA this CPU runs: the AVX-512 image kernels and the portable loops.
  for (Isa isa : supported_isas()) {
    set_gemm_isa(isa);
    for (const auto& k : cases) {
      for (int threads : {1, 2}) {
        SCOPED_TRACE(::testing::Message()
                     << isa_name(isa) << " h=" << k.h << " w=" << k.w << " c=" << k.c
                     << " pool=" << k.ph << "x" << k.pw << " stride=" << k.sh << "x" << k.sw
                     << " threads=" << threads);
        check_max_pool(k, threads, ++seed);
      }
    }
  }
  set_gemm_isa(best_isa());
}

TEST(MaxPool2D, NanAnywhereInTheWindowWins) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Isa isa : supported_isas()) {
    set_gemm_isa(isa);
    SCOPED_TRACE(isa_name(isa));
    // One channel, then 19 (a full AVX-512 chunk and a tail), with the NaN of each 2x2 window
    // in each of its four cells in turn; the fourth window has none.
    for (int64_t c : {1, 19}) {
      Pool2DShape s = pool_shape({1, 2, 8, c, 2, 2, 2, 2, 0, 0, 0, 0});
      std::vector<float> x(static_cast<size_t>(2 * 8 * c));
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);
      const int64_t cells[4][2] = {{0, 0}, {0, 3}, {1, 4}, {1, 7}};  // (row, column) per window
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int win = 0; win < 3; ++win) x[(cells[win][0] * 8 + cells[win][1]) * c + ch] = nan;
        // a second NaN later in window 2: the first one's index is kept
        x[(1 * 8 + 5) * c + ch] = nan;
      }
      std::vector<float> y(4 * c);
      std::vector<int32_t> arg(4 * c);
      maxpool2d_forward(s, x.data(), y.data(), arg.data());
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int win = 0; win < 3; ++win) {
          SCOPED_TRACE(::testing::Message() << "c=" << c << " ch=" << ch << " window " << win);
          EXPECT_TRUE(std::isnan(y[win * c + ch]));
          EXPECT_EQ(arg[win * c + ch], (cells[win][0] * 8 + cells[win][1]) * c + ch);
        }
        EXPECT_FALSE(std::isnan(y[3 * c + ch]));
      }
    }
  }
  set_gemm_isa(best_isa());
}

TEST(MaxPool2D, OutOfRangeIndicesAreSkippedAndReported) {
  for (Isa isa : supported_isas()) {
    set_gemm_isa(isa);
    SCOPED_TRACE(isa_name(isa));
    // Overlapping windows scatter: an index past the image must not be written.
    Pool2DShape s = pool_shape({1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0});
    std::vector<float> dy(4, 1.0f), dx(9, -1.0f);
    std::vector<int32_t> arg = {0, 100, 4, -1};
    EXPECT_FALSE(maxpool2d_backward(s, dy.data(), arg.data(), dx.data()));
    EXPECT_EQ(dx, (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 0}));
    // Disjoint windows compare indices with their own cells: a foreign index receives nothing.
    Pool2DShape t = pool_shape({1, 2, 4, 1, 2, 2, 2, 2, 0, 0, 0, 0});
    std::vector<float> dy2 = {1.0f, 2.0f}, dx2(8, -1.0f);
    std::vector<int32_t> arg2 = {100, 7};
    EXPECT_TRUE(maxpool2d_backward(t, dy2.data(), arg2.data(), dx2.data()));
    EXPECT_EQ(dx2, (std::vector<float>{0, 0, 0, 0, 0, 0, 0, 2}));
  }
  set_gemm_isa(best_isa());
}

}  // namespace
}  // namespace fastkeras
