// The Winograd F(2x2, 3x3) forward (kernels/conv2d/winograd.h) against naive loops in double
// precision: 'valid', 'same' and one-sided padding, odd output sizes (tiles cut by the output's
// edge), channel and filter counts that are not multiples of 16, bias or none, relu or none,
// batches spanning several tile chunks, one and two threads; a NaN in the input; and
// conv2d_forward dispatching to it.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/conv2d/conv2d.h"
#include "kernels/conv2d/winograd.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"
#include "tests/conv2d_test_util.h"

namespace fastkeras {
namespace {

using conv2d_test::Case;
using conv2d_test::random_vec;
using conv2d_test::reference_conv;
using conv2d_test::shape_of;

void check_winograd(const Case& k, bool use_bias, bool relu, uint32_t seed) {
  if (!isa_supported(Isa::kAvx512)) GTEST_SKIP() << "no AVX-512: the Winograd kernels are unused";
  const Conv2DShape s = shape_of(k);
  ASSERT_GT(s.oh, 0);
  ASSERT_GT(s.ow, 0);
  auto x = random_vec(s.n * s.h * s.w * s.c, seed);
  auto w = random_vec(9 * s.c * s.f, seed + 1);
  auto b = random_vec(s.f, seed + 2);
  const float* bias = use_bias ? b.data() : nullptr;
  const auto want = reference_conv(s, x, w, bias, relu);
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    set_num_threads(threads);
    std::vector<float> y(want.size(), std::numeric_limits<float>::quiet_NaN());
    winograd_forward(s, x.data(), w.data(), bias, relu, y.data());
    // Sums of up to 9c products of values in [-1, 1], through transforms with halves.
    const double tol = 2e-6 * 9 * s.c;
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], want[i], tol) << "y " << i;
  }
  set_num_threads(0);
}

//                                       n   h   w   c kh kw   f sh sw dh dw pt pl pb pr
TEST(Conv2DWinograd, PoolingNetworkSecondLayer) {
  check_winograd({4, 13, 13, 32, 3, 3, 64, 1, 1, 1, 1, 0, 0, 0, 0}, true, true, 1);
}
TEST(Conv2DWinograd, SamePaddingOddSizes) {
  check_winograd({2, 7, 9, 16, 3, 3, 16, 1, 1, 1, 1, 1, 1, 1, 1}, true, false, 2);
}
TEST(Conv2DWinograd, ChannelAndFilterTails) {
  check_winograd({2, 8, 6, 17, 3, 3, 33, 1, 1, 1, 1, 0, 0, 0, 0}, false, true, 3);
  check_winograd({1, 5, 5, 40, 3, 3, 70, 1, 1, 1, 1, 1, 1, 1, 1}, true, true, 4);
}
TEST(Conv2DWinograd, OneSidedPadding) {
  check_winograd({2, 6, 7, 16, 3, 3, 20, 1, 1, 1, 1, 0, 2, 2, 0}, true, false, 5);
}
TEST(Conv2DWinograd, SingleOutputAndSingleTile) {
  check_winograd({3, 3, 3, 16, 3, 3, 16, 1, 1, 1, 1, 0, 0, 0, 0}, true, true, 6);    // 1x1
  check_winograd({3, 4, 4, 16, 3, 3, 16, 1, 1, 1, 1, 0, 0, 0, 0}, false, false, 7);  // 2x2
}
TEST(Conv2DWinograd, FewTilesSplitOverThreads) {
  // 16 tiles, enough work for two threads: chunks of 8 tiles instead of one chunk of 16.
  check_winograd({1, 10, 10, 64, 3, 3, 64, 1, 1, 1, 1, 0, 0, 0, 0}, true, true, 14);
}
TEST(Conv2DWinograd, ManyTileChunks) {
  // 3 * 12 * 12 = 432 tiles: more than one chunk, split unevenly over two threads.
  check_winograd({3, 24, 24, 16, 3, 3, 24, 1, 1, 1, 1, 1, 1, 1, 1}, true, true, 8);
}

TEST(Conv2DWinograd, NanInTheInputReachesItsOutputsOnly) {
  if (!isa_supported(Isa::kAvx512)) GTEST_SKIP() << "no AVX-512";
  const Conv2DShape s = shape_of({1, 8, 8, 16, 3, 3, 16, 1, 1, 1, 1, 0, 0, 0, 0});
  auto x = random_vec(s.h * s.w * s.c, 9);
  auto w = random_vec(9 * s.c * s.f, 10);
  x[(0 * s.w + 0) * s.c + 3] = std::numeric_limits<float>::quiet_NaN();  // cell (0, 0)
  std::vector<float> y(s.oh * s.ow * s.f);
  winograd_forward(s, x.data(), w.data(), nullptr, true, y.data());
  EXPECT_TRUE(std::isnan(y[0]));                                      // output (0, 0) reads it
  EXPECT_FALSE(std::isnan(y[((s.oh - 1) * s.ow + s.ow - 1) * s.f]));  // the far corner does not
}

// conv2d_forward takes the Winograd path exactly when winograd_applicable says so, and the
// im2col path otherwise (stride 2 here); both give the reference.
TEST(Conv2DWinograd, ForwardDispatch) {
  const Case wino{2, 9, 9, 32, 3, 3, 40, 1, 1, 1, 1, 1, 1, 1, 1};
  const Case strided{2, 9, 9, 32, 3, 3, 40, 2, 2, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(winograd_applicable(shape_of(wino)), gemm_isa() == Isa::kAvx512);
  EXPECT_FALSE(winograd_applicable(shape_of(strided)));
  for (const Case& k : {wino, strided}) {
    const Conv2DShape s = shape_of(k);
    auto x = random_vec(s.n * s.h * s.w * s.c, 11);
    auto w = random_vec(9 * s.c * s.f, 12);
    auto b = random_vec(s.f, 13);
    std::vector<float> y(s.n * s.oh * s.ow * s.f);
    std::vector<float> col(s.n * s.oh * s.ow * 9 * s.c);
    const bool kept = conv2d_forward(s, x.data(), w.data(), b.data(), true, y.data(), col.data());
    EXPECT_EQ(kept, !winograd_applicable(s));  // no im2col to keep on the Winograd path
    const auto want = reference_conv(s, x, w, b.data(), true);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], want[i], 1e-4) << "y " << i;
  }
}

}  // namespace
}  // namespace fastkeras
