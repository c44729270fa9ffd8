// The sparse convolution gradients (kernels/conv2d/sparse_grad.h: input, kernel and bias)
// against naive loops in double precision: output gradients from all zeros to fully dense,
// 'same' and asymmetric padding, strides, dilation, 1x1 kernels and kernels as large as the
// input, channel counts 16-48, filter counts around the 16-lane vectors, batches spanning
// several pixel chunks, one and two threads, each ISA; and conv2d_backward taking this path
// behind a relu.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/conv2d/conv2d.h"
#include "kernels/conv2d/sparse_grad.h"
#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"
#include "tests/conv2d_test_util.h"

namespace fastkeras {
namespace {

using conv2d_test::Case;
using conv2d_test::random_vec;
using conv2d_test::shape_of;
using conv2d_test::tap;

// An output gradient in which each value is nonzero with probability `density`.
std::vector<float> sparse_vec(size_t n, double density, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1, 1);
  std::uniform_real_distribution<double> keep(0, 1);
  std::vector<float> v(n);
  for (auto& e : v) e = keep(rng) < density ? value(rng) : 0.0f;
  return v;
}

struct Grads {
  std::vector<double> dx, dw;
};

Grads reference_grads(const Conv2DShape& s, const std::vector<float>& x,
                      const std::vector<float>& w, const std::vector<float>& dz) {
  Grads r{std::vector<double>(x.size(), 0.0), std::vector<double>(w.size(), 0.0)};
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ++ox)
        for (int64_t f = 0; f < s.f; ++f) {
          const double g = dz[((n * s.oh + oy) * s.ow + ox) * s.f + f];
          for (int64_t i = 0; i < s.kh; ++i)
            for (int64_t j = 0; j < s.kw; ++j) {
              int64_t iy, ix;
              if (!tap(s, oy, ox, i, j, &iy, &ix)) continue;
              for (int64_t c = 0; c < s.c; ++c) {
                const int64_t xi = ((n * s.h + iy) * s.w + ix) * s.c + c;
                const int64_t wi = ((i * s.kw + j) * s.c + c) * s.f + f;
                r.dx[xi] += g * w[wi];
                r.dw[wi] += g * x[xi];
              }
            }
        }
  return r;
}

std::vector<Isa> isas_to_test() {
  std::vector<Isa> out{Isa::kGeneric};
  if (isa_supported(Isa::kAvx512)) out.push_back(Isa::kAvx512);
  return out;
}

void check_sparse(const Case& k, double density, uint32_t seed) {
  const Conv2DShape s = shape_of(k);
  ASSERT_GT(s.oh, 0);
  ASSERT_GT(s.ow, 0);
  auto x = random_vec(s.n * s.h * s.w * s.c, seed);
  auto w = random_vec(s.kh * s.kw * s.c * s.f, seed + 1);
  auto dz = sparse_vec(s.n * s.oh * s.ow * s.f, density, seed + 2);
  const Grads r = reference_grads(s, x, w, dz);
  for (Isa isa : isas_to_test()) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + ", threads " + std::to_string(threads));
      set_num_threads(threads);
      std::vector<float> dx(x.size(), 0.5f);                 // the input gradient is added to dx
      std::vector<float> dw(w.size(), 7.0f), db(s.f, 7.0f);  // both overwritten
      conv2d_input_grad_sparse_isa(isa, s, w.data(), dz.data(), dx.data());
      conv2d_kernel_grad_sparse_isa(isa, s, x.data(), dz.data(), dw.data(), db.data());
      for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], r.dx[i] + 0.5, 1e-4) << "dx " << i;
      for (size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], r.dw[i], 1e-4) << "dw " << i;
      for (int64_t f = 0; f < s.f; ++f) {
        double want = 0;
        for (int64_t p = 0; p < s.n * s.oh * s.ow; ++p) want += dz[p * s.f + f];
        ASSERT_NEAR(db[f], want, 1e-4) << "db " << f;
      }
    }
  }
  set_num_threads(0);
}

//                                 n   h   w   c  kh kw   f sh sw dh dw pt pl pb pr
TEST(Conv2DSparse, PoolingNetworkSecondLayer) {
  check_sparse({3, 13, 13, 32, 3, 3, 64, 1, 1, 1, 1, 0, 0, 0, 0}, 0.13, 1);
}
TEST(Conv2DSparse, SamePaddingEveryBorder) {
  check_sparse({2, 9, 7, 16, 3, 3, 17, 1, 1, 1, 1, 1, 1, 1, 1}, 0.2, 2);
}
TEST(Conv2DSparse, AsymmetricPaddingStridesAndOddSizes) {
  // TensorFlow's 'same' with stride 2 on an even size: the extra cell at the bottom/right.
  check_sparse({2, 10, 11, 32, 3, 3, 5, 2, 2, 1, 1, 0, 1, 1, 1}, 0.25, 3);
}
TEST(Conv2DSparse, DilationAndUnevenKernel) {
  check_sparse({2, 12, 13, 16, 2, 3, 33, 1, 2, 2, 2, 1, 2, 2, 0}, 0.15, 4);
}
TEST(Conv2DSparse, PointwiseKernel) {
  check_sparse({2, 5, 6, 48, 1, 1, 70, 1, 1, 1, 1, 0, 0, 0, 0}, 0.1, 5);
}
TEST(Conv2DSparse, KernelAsLargeAsTheInput) {
  check_sparse({4, 5, 4, 16, 5, 4, 1, 1, 1, 1, 1, 0, 0, 0, 0}, 0.5, 6);
}
TEST(Conv2DSparse, ManyPixelChunks) {
  // 8 * 12 * 12 = 1152 output pixels: several chunks of the kernel gradient's lists.
  check_sparse({8, 14, 14, 16, 3, 3, 20, 1, 1, 1, 1, 0, 0, 0, 0}, 0.1, 7);
}
TEST(Conv2DSparse, AllZeroAndFullyDenseGradients) {
  check_sparse({2, 6, 6, 16, 3, 3, 16, 1, 1, 1, 1, 1, 1, 1, 1}, 0.0, 8);
  check_sparse({2, 6, 6, 16, 3, 3, 16, 1, 1, 1, 1, 1, 1, 1, 1}, 1.0, 9);
}

TEST(Conv2DSparse, NanInTheGradientReachesBothResults) {
  const Conv2DShape s = shape_of({1, 5, 5, 16, 3, 3, 4, 1, 1, 1, 1, 0, 0, 0, 0});
  auto x = random_vec(s.n * s.h * s.w * s.c, 11);
  auto w = random_vec(s.kh * s.kw * s.c * s.f, 12);
  std::vector<float> dz(s.n * s.oh * s.ow * s.f, 0.0f);
  dz[(1 * s.ow + 1) * s.f + 2] = std::numeric_limits<float>::quiet_NaN();  // pixel (1, 1), f 2
  for (Isa isa : isas_to_test()) {
    std::vector<float> dx(x.size(), 0.0f), dw(w.size(), 0.0f);
    conv2d_input_grad_sparse_isa(isa, s, w.data(), dz.data(), dx.data());
    conv2d_kernel_grad_sparse_isa(isa, s, x.data(), dz.data(), dw.data());
    EXPECT_TRUE(std::isnan(dx[(2 * s.w + 2) * s.c]));  // inside pixel (1, 1)'s window
    EXPECT_EQ(dx[0], 0.0f);                            // outside it
    EXPECT_TRUE(std::isnan(dw[2]));                    // filter 2's column
    EXPECT_EQ(dw[0], 0.0f);                            // filter 0's
  }
}

TEST(Conv2DSparse, NonzeroFraction) {
  std::vector<float> v(37, 0.0f);
  EXPECT_EQ(nonzero_fraction(v.data(), 37), 0.0);
  v[0] = 1.0f, v[17] = -2.0f, v[36] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_DOUBLE_EQ(nonzero_fraction(v.data(), 37), 3.0 / 37.0);
  EXPECT_EQ(nonzero_fraction(v.data(), 0), 0.0);
}

// conv2d_backward behind a relu with a mostly-zero output gradient, the case the sparse
// kernels are there for; on AVX-512 it takes them, elsewhere the GEMMs, and the answer is the
// same either way.
TEST(Conv2DSparse, BackwardDispatchBehindRelu) {
  const Conv2DShape s = shape_of({4, 11, 11, 32, 3, 3, 48, 1, 1, 1, 1, 1, 1, 1, 1});
  auto x = random_vec(s.n * s.h * s.w * s.c, 21);
  auto w = random_vec(s.kh * s.kw * s.c * s.f, 22);
  auto dy = sparse_vec(s.n * s.oh * s.ow * s.f, 0.2, 23);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(s.f);
  conv2d_forward(s, x.data(), w.data(), nullptr, true, y.data());
  std::vector<float> dz(dy.size());
  for (size_t i = 0; i < dz.size(); ++i) dz[i] = y[i] > 0 ? dy[i] : 0.0f;
  ASSERT_LE(nonzero_fraction(dz.data(), static_cast<int64_t>(dz.size())), kSparseGradMaxDensity);
  conv2d_backward(s, x.data(), w.data(), y.data(), dy.data(), true, dx.data(), dw.data(),
                  db.data());
  const Grads r = reference_grads(s, x, w, dz);
  for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], r.dx[i], 1e-4) << "dx " << i;
  for (size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], r.dw[i], 1e-4) << "dw " << i;
  for (int64_t f = 0; f < s.f; ++f) {
    double want = 0;
    for (int64_t p = 0; p < s.n * s.oh * s.ow; ++p) want += dz[p * s.f + f];
    ASSERT_NEAR(db[f], want, 1e-4) << "db " << f;
  }
}

}  // namespace
}  // namespace fastkeras
