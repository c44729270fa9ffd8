// The GEMM against a naive double-precision reference on awkward shapes, for every ISA this CPU
// supports (each forced, not only the dispatched one), both transposes, alpha/beta, leading
// dimensions wider than the matrix, the fused bias + relu epilogue, and one or more threads.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

struct Case {
  int64_t m, n, k;
  bool ta, tb;
  float alpha, beta;
  bool bias, relu;
  int64_t pad;  // extra columns in each leading dimension
};

std::string describe(const Case& c, Isa isa, int threads) {
  return std::string(isa_name(isa)) + " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
         " k=" + std::to_string(c.k) + " ta=" + std::to_string(c.ta) +
         " tb=" + std::to_string(c.tb) + " alpha=" + std::to_string(c.alpha) +
         " beta=" + std::to_string(c.beta) + " bias=" + std::to_string(c.bias) +
         " relu=" + std::to_string(c.relu) + " pad=" + std::to_string(c.pad) +
         " threads=" + std::to_string(threads);
}

// Fills, runs sgemm_isa and compares against the naive loops. Returns the worst error / bound.
void check_case(const Case& c, Isa isa, int threads, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  // Storage shapes: A is (m, k) or (k, m) when transposed; B is (k, n) or (n, k).
  const int64_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k;
  const int64_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
  std::vector<float> a(a_rows * lda + 1), b(b_rows * ldb + 1), cm(c.m * ldc + 1), bias(c.n);
  for (auto& v : a) v = dist(rng);
  for (auto& v : b) v = dist(rng);
  for (auto& v : cm) v = dist(rng);
  for (auto& v : bias) v = dist(rng);
  if (c.beta == 0.0f) {
    // With beta == 0 C must not be read: poison it.
    for (auto& v : cm) v = std::numeric_limits<float>::quiet_NaN();
  }
  // Sentinels in the padding must survive untouched.
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = c.n; j < ldc; ++j) cm[i * ldc + j] = 12345.0f;
  }
  const std::vector<float> c0 = cm;

  auto A = [&](int64_t i, int64_t p) { return c.ta ? a[p * lda + i] : a[i * lda + p]; };
  auto B = [&](int64_t p, int64_t j) { return c.tb ? b[j * ldb + p] : b[p * ldb + j]; };

  GemmArgs g;
  g.trans_a = c.ta ? Trans::kYes : Trans::kNo;
  g.trans_b = c.tb ? Trans::kYes : Trans::kNo;
  g.m = c.m;
  g.n = c.n;
  g.k = c.k;
  g.alpha = c.alpha;
  g.a = a.data();
  g.lda = lda;
  g.b = b.data();
  g.ldb = ldb;
  g.beta = c.beta;
  g.c = cm.data();
  g.ldc = ldc;
  g.bias = c.bias ? bias.data() : nullptr;
  g.act = c.relu ? Activation::kRelu : Activation::kIdentity;
  set_num_threads(threads);
  sgemm_isa(isa, g);
  set_num_threads(0);

  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double acc = 0, mag = 0;
      for (int64_t p = 0; p < c.k; ++p) {
        acc += static_cast<double>(A(i, p)) * B(p, j);
        mag += std::fabs(static_cast<double>(A(i, p)) * B(p, j));
      }
      double ref = c.alpha * acc;
      double bound = std::fabs(c.alpha) * mag;
      if (c.beta != 0.0f) {
        ref += c.beta * static_cast<double>(c0[i * ldc + j]);
        bound += std::fabs(c.beta * c0[i * ldc + j]);
      }
      if (c.bias) {
        ref += bias[j];
        bound += std::fabs(bias[j]);
      }
      if (c.relu && ref < 0) ref = 0;
      const double got = cm[i * ldc + j];
      const double tol = 2e-6 * bound + 1e-6;
      ASSERT_TRUE(std::isfinite(got)) << describe(c, isa, threads) << " at " << i << "," << j;
      ASSERT_NEAR(got, ref, tol) << describe(c, isa, threads) << " at " << i << "," << j;
    }
    for (int64_t j = c.n; j < ldc; ++j) {
      ASSERT_EQ(cm[i * ldc + j], 12345.0f) << "padding overwritten: " << describe(c, isa, threads);
    }
  }
}

// Sizes that stress every edge: 1, primes, and just around each ISA's register tile
// (4/6/12 rows, 8/16/32 columns) and cache blocks (kc=256, nc=768, mc=1536).
const std::vector<std::array<int64_t, 3>>& shapes() {
  static const std::vector<std::array<int64_t, 3>> s = {
      {1, 1, 1},    {1, 7, 3},    {7, 1, 5},     {2, 3, 1},    {3, 5, 7},      {4, 8, 16},
      {5, 9, 17},   {6, 16, 2},   {11, 31, 13},  {12, 32, 64}, {13, 33, 29},   {23, 47, 31},
      {37, 61, 97}, {64, 64, 64}, {71, 67, 255}, {9, 17, 256}, {10, 18, 257},  {25, 40, 513},
      {3, 767, 5},  {13, 769, 7}, {1535, 3, 9},  {1537, 5, 4}, {32, 300, 784}, {100, 10, 33},
  };
  return s;
}

class GemmIsaTest : public ::testing::TestWithParam<Isa> {};

TEST_P(GemmIsaTest, MatchesReferenceOnAwkwardShapes) {
  const Isa isa = GetParam();
  uint32_t seed = 1;
  for (const auto& s : shapes()) {
    for (int t = 0; t < 4; ++t) {
      Case c{s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, 1.0f, 0.0f, false, false, 0};
      check_case(c, isa, 1, seed++);
    }
  }
}

TEST_P(GemmIsaTest, AlphaBetaBiasReluAndLeadingDimensions) {
  const Isa isa = GetParam();
  uint32_t seed = 100;
  const float alphas[] = {1.0f, -0.5f, 2.0f};
  const float betas[] = {0.0f, 1.0f, -1.5f};
  for (const auto& s : {std::array<int64_t, 3>{13, 35, 19}, std::array<int64_t, 3>{1, 33, 300},
                        std::array<int64_t, 3>{29, 5, 260}}) {
    for (float alpha : alphas) {
      for (float beta : betas) {
        for (int flags = 0; flags < 8; ++flags) {
          Case c{s[0],
                 s[1],
                 s[2],
                 (flags & 1) != 0,
                 (flags & 2) != 0,
                 alpha,
                 beta,
                 (flags & 4) != 0,
                 (flags & 4) != 0,
                 3};
          check_case(c, isa, 1, seed++);
        }
        Case relu_only{s[0], s[1], s[2], false, false, alpha, beta, false, true, 0};
        check_case(relu_only, isa, 1, seed++);
      }
    }
  }
}

TEST_P(GemmIsaTest, ThreadedMatchesReference) {
  const Isa isa = GetParam();
  uint32_t seed = 500;
  for (const auto& s : {std::array<int64_t, 3>{32, 300, 784}, std::array<int64_t, 3>{784, 300, 32},
                        std::array<int64_t, 3>{32, 784, 300}, std::array<int64_t, 3>{257, 129, 300},
                        std::array<int64_t, 3>{97, 1601, 64}}) {
    for (int t = 0; t < 4; ++t) {
      for (int threads : {2, 3}) {
        Case c{s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, 1.0f, 0.5f, true, true, 1};
        check_case(c, isa, threads, seed++);
      }
    }
  }
}

TEST_P(GemmIsaTest, SplitKForFewTilesAndLongDepth) {
  // C smaller than one tile per thread and a long K: the depth is split across threads and the
  // slices summed (a convolution's weight gradient has this shape).
  const Isa isa = GetParam();
  uint32_t seed = 900;
  for (const auto& s : {std::array<int64_t, 3>{9, 32, 21632}, std::array<int64_t, 3>{1, 1, 5000},
                        std::array<int64_t, 3>{5, 7, 3001}}) {
    for (int t = 0; t < 4; ++t) {
      for (float beta : {0.0f, 1.0f}) {
        Case c{s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, 0.5f, beta, false, false, 2};
        check_case(c, isa, 2, seed++);
        check_case(c, isa, 3, seed++);
      }
    }
  }
}

TEST_P(GemmIsaTest, ZeroDepthScalesC) {
  // K == 0: C = act(beta * C + bias); alpha has nothing to scale.
  const Isa isa = GetParam();
  for (float beta : {0.0f, 2.0f}) {
    Case c{5, 9, 0, false, false, 1.0f, beta, true, true, 2};
    check_case(c, isa, 1, 7);
  }
}

TEST_P(GemmIsaTest, EmptyOutputIsANoOp) {
  const Isa isa = GetParam();
  GemmArgs g;
  g.m = 0;
  g.n = 5;
  g.k = 3;
  sgemm_isa(isa, g);  // null pointers are never touched
  g.m = 4;
  g.n = 0;
  sgemm_isa(isa, g);
}

TEST_P(GemmIsaTest, ReluKeepsNaN) {
  const Isa isa = GetParam();
  std::vector<float> a = {std::numeric_limits<float>::quiet_NaN(), 1.0f};  // 2 x 1
  std::vector<float> b = {1.0f, -1.0f, 2.0f};                              // 1 x 3
  std::vector<float> c(6, 0.0f);
  GemmArgs g;
  g.m = 2;
  g.n = 3;
  g.k = 1;
  g.a = a.data();
  g.lda = 1;
  g.b = b.data();
  g.ldb = 3;
  g.c = c.data();
  g.ldc = 3;
  g.act = Activation::kRelu;
  sgemm_isa(isa, g);
  for (int j = 0; j < 3; ++j) EXPECT_TRUE(std::isnan(c[j])) << j;
  EXPECT_EQ(c[3], 1.0f);
  EXPECT_EQ(c[4], 0.0f);
  EXPECT_EQ(c[5], 2.0f);
}

// n floats that end exactly where an unreadable page begins: reading one float past them
// faults (the test process dies, which ctest reports as a failure).
class GuardedFloats {
 public:
  explicit GuardedFloats(int64_t n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t data = (static_cast<size_t>(n) * sizeof(float) + page - 1) / page * page;
    size_ = data + page;
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<char*>(p);
    mprotect(base_ + data, page, PROT_NONE);
    floats_ = reinterpret_cast<float*>(base_ + data) - n;
  }
  ~GuardedFloats() { munmap(base_, size_); }
  GuardedFloats(const GuardedFloats&) = delete;
  GuardedFloats& operator=(const GuardedFloats&) = delete;
  float* data() { return floats_; }

 private:
  char* base_ = nullptr;
  size_t size_ = 0;
  float* floats_ = nullptr;
};

TEST_P(GemmIsaTest, ReadsAInPlaceNeverPastItsEnd) {
  // op(A) is read where it lies (not packed): a row-major A's last, partial micro-panel must
  // not read the rows it does not have, nor an A^T's. A ends right before an unreadable page.
  // Leading dimensions: tight, one that is a multiple of 4 KB (packed instead) and K = 1.
  const Isa isa = GetParam();
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const std::array<int64_t, 4> shapes[] = {
      {13, 40, 7, 7},      {5, 33, 161, 161}, {32, 512, 161, 161},
      {25, 17, 300, 1024}, {11, 9, 1, 1},     {37, 70, 512, 512}};  // m, n, k, lda of row-major A
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    for (bool ta : {false, true}) {
      const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
      const int64_t lda = ta ? (s[3] == 1024 ? 1024 : m) : s[3];
      GuardedFloats a((a_rows - 1) * lda + a_cols);
      for (int64_t i = 0; i < (a_rows - 1) * lda + a_cols; ++i) a.data()[i] = dist(rng);
      std::vector<float> b(k * n), c(m * n);
      for (auto& v : b) v = dist(rng);
      GemmArgs g;
      g.trans_a = ta ? Trans::kYes : Trans::kNo;
      g.m = m;
      g.n = n;
      g.k = k;
      g.a = a.data();
      g.lda = lda;
      g.b = b.data();
      g.ldb = n;
      g.c = c.data();
      g.ldc = n;
      sgemm_isa(isa, g);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double ref = 0, mag = 0;
          for (int64_t p = 0; p < k; ++p) {
            const double av = ta ? a.data()[p * lda + i] : a.data()[i * lda + p];
            ref += av * b[p * n + j];
            mag += std::fabs(av * b[p * n + j]);
          }
          ASSERT_NEAR(c[i * n + j], ref, 2e-6 * mag + 1e-6)
              << isa_name(isa) << " m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " at "
              << i << "," << j;
        }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SupportedIsas, GemmIsaTest, ::testing::ValuesIn(supported_isas()),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(isa_name(info.param));
                         });

TEST(GemmDispatch, DefaultsToBestIsaAndCanBeOverridden) {
  EXPECT_EQ(gemm_isa(), best_isa());
  set_gemm_isa(Isa::kGeneric);
  EXPECT_EQ(gemm_isa(), Isa::kGeneric);
  set_gemm_isa(best_isa());
  EXPECT_TRUE(isa_supported(Isa::kGeneric));
}

TEST(GemmDispatch, UnsupportedIsaIsRejected) {
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) {
      EXPECT_THROW(set_gemm_isa(isa), std::invalid_argument);
      EXPECT_THROW(sgemm_isa(isa, GemmArgs{}), std::invalid_argument);
    }
  }
}

}  // namespace
}  // namespace fastkeras
