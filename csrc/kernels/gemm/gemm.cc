// The blocked GEMM (GotoBLAS/BLIS loop structure) and its threading. In row-major terms:
//
//   for i0 over M in steps of mc:            op(A)[i0:, k0:] block, in place (L3)
//     for k0 over K in steps of kc:
//       for j0 over N in steps of nc:        pack op(B)[k0:, j0:] block      (L2)
//         for ir over the block in MR rows:  A micro-panel                   (L1)
//           for jr over the block in NR:     micro-kernel on one C tile
//
// op(A) is packed only where reading it in place would thrash the caches (see
// reads_a_in_place); B is read in place only when C has few rows.
//
// Threads split C into a grid of rectangles; each thread runs the loops above on its own
// rectangle with its own packing buffers, so threads never wait on each other.
#include "kernels/gemm/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

#include "kernels/gemm/pack.h"
#include "kernels/gemm/ukernel.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

const GemmKernelInfo& kernel_for(Isa isa) {
#if defined(FASTKERAS_X86)
  if (isa == Isa::kAvx512) return gemm_kernel_avx512_12x32();
  if (isa == Isa::kAvx2) return gemm_kernel_avx2_6x16();
#endif
  (void)isa;
  return gemm_kernel_generic_4x8();
}

std::atomic<Isa>& dispatched_isa() {
  static std::atomic<Isa> isa{best_isa()};
  return isa;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A 64-byte aligned float buffer per thread that only grows, so steady-state calls allocate
// nothing.
struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
float* scratch(std::unique_ptr<float, AlignedFree>& buf, size_t& capacity, size_t count) {
  if (count > capacity) {
    size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p) throw std::bad_alloc();
    buf.reset(p);
    capacity = bytes / sizeof(float);
  }
  return buf.get();
}

struct PackBuffers {
  std::unique_ptr<float, AlignedFree> a, b;
  size_t a_cap = 0, b_cap = 0;
};
PackBuffers& thread_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// K == 0 (or alpha == 0): nothing to multiply, only C = act(beta * C + bias).
void scale_only(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    float* row = g.c + i * g.ldc;
    for (int64_t j = 0; j < g.n; ++j) {
      float v = g.beta != 0.0f ? g.beta * row[j] : 0.0f;
      if (g.bias) v += g.bias[j];
      if (g.act == Activation::kRelu && v < 0.0f) v = 0.0f;
      row[j] = v;
    }
  }
}

// Depth blocks of nearly equal size (K=784 with kc=256 gives 4 x 196, not 3 x 256 + 16), so no
// pass over C is wasted on a thin remainder.
int64_t balanced_kc(int64_t k, int64_t kc_max) {
  int64_t blocks = ceil_div(k, kc_max);
  return ceil_div(k, blocks);
}

// Below this many rows of C, a B micro-panel is used by so few A micro-panels that packing B
// costs more than it saves: full-width B panels are then read in place (row-major B only).
constexpr int64_t kDirectBMaxRows = 64;

// op(A) is read where it lies instead of being packed, whichever way it is stored: for A^T the
// MR values of one step of a micro-panel are contiguous (one line per step, `lda` apart), for
// A the kernel broadcasts from MR row streams `lda` apart. Either way the panel is re-read from
// the caches once per B micro-panel exactly as a packed copy would be, so the copy only costs.
// Except when lda is a multiple of 4 KB: then every line of the panel falls into the same few
// cache sets and they evict each other.
bool reads_a_in_place(const GemmArgs& g) { return (g.lda * sizeof(float)) % 4096 != 0; }

// The serial blocked algorithm on one rectangle of C. g.m, g.n > 0 and g.k > 0.
void gemm_blocked(const GemmKernelInfo& kr, const GemmArgs& g) {
  const int mr = kr.mr, nr = kr.nr;
  const int64_t kc_max = balanced_kc(g.k, kr.kc);
  const int64_t mc_max = std::min<int64_t>(kr.mc, ceil_div(g.m, mr) * mr);
  const int64_t nc_max = std::min<int64_t>(kr.nc, ceil_div(g.n, nr) * nr);
  const bool direct_a = reads_a_in_place(g);
  // A row-major panel read in place is whole even at the edge (the kernel repeats its last
  // row); an A^T one would run past the matrix there, so that one panel is packed. (With
  // lda == 1, a_rs == 1 would read as a packed panel: such an A, K == 1, is packed.)
  const bool rows_a = direct_a && g.trans_a == Trans::kNo && g.lda > 1;
  const bool direct_b = g.trans_b == Trans::kNo && g.m <= kDirectBMaxRows;
  PackBuffers& buf = thread_buffers();
  float* ap = scratch(buf.a, buf.a_cap, static_cast<size_t>((direct_a ? mr : mc_max) * kc_max));
  float* bp = scratch(buf.b, buf.b_cap, static_cast<size_t>((direct_b ? nr : nc_max) * kc_max));

  for (int64_t i0 = 0; i0 < g.m; i0 += mc_max) {
    const int64_t mc = std::min(mc_max, g.m - i0);
    for (int64_t k0 = 0; k0 < g.k; k0 += kc_max) {
      const int64_t kc = std::min(kc_max, g.k - k0);
      const bool first = k0 == 0;
      const bool last = k0 + kc >= g.k;
      const int64_t a_full = rows_a ? mc : (direct_a ? (mc / mr) * mr : 0);
      if (a_full < mc)
        pack_a_block(g.trans_a, g.a, g.lda, i0 + a_full, mc - a_full, k0, kc, mr, ap);
      UkernelParams params{g.alpha, first ? g.beta : 1.0f, nullptr,
                           last && g.act == Activation::kRelu};
      for (int64_t j0 = 0; j0 < g.n; j0 += nc_max) {
        const int64_t nc = std::min(nc_max, g.n - j0);
        const int64_t full = direct_b ? (nc / nr) * nr : 0;
        if (full < nc) pack_b_block(g.trans_b, g.b, g.ldb, k0, kc, j0 + full, nc - full, nr, bp);
        for (int64_t ir = 0; ir < mc; ir += mr) {
          const int m_eff = static_cast<int>(std::min<int64_t>(mr, mc - ir));
          const float* a_panel;
          int64_t a_rs = 1, a_stride = mr;  // a packed panel
          if (rows_a) {
            a_panel = g.a + (i0 + ir) * g.lda + k0;
            a_rs = g.lda;
            a_stride = 1;
          } else if (ir < a_full) {
            a_panel = g.a + k0 * g.lda + i0 + ir;
            a_stride = g.lda;
          } else {
            a_panel = ap + (ir - a_full) * kc;
          }
          float* c_row = g.c + (i0 + ir) * g.ldc + j0;
          for (int64_t jr = 0; jr < nc; jr += nr) {
            const int n_eff = static_cast<int>(std::min<int64_t>(nr, nc - jr));
            const bool in_place = jr < full;
            const float* b_panel = in_place ? g.b + k0 * g.ldb + j0 + jr : bp + (jr - full) * kc;
            params.bias = (last && g.bias) ? g.bias + j0 + jr : nullptr;
            kr.fn(kc, a_panel, a_rs, a_stride, b_panel, in_place ? g.ldb : nr, c_row + jr, g.ldc,
                  m_eff, n_eff, params);
          }
        }
      }
    }
  }
}

// The sub-problem that computes C[m0:m0+m, n0:n0+n].
GemmArgs sub_problem(const GemmArgs& g, int64_t m0, int64_t m, int64_t n0, int64_t n) {
  GemmArgs s = g;
  s.m = m;
  s.n = n;
  s.a = g.trans_a == Trans::kNo ? g.a + m0 * g.lda : g.a + m0;
  s.b = g.trans_b == Trans::kNo ? g.b + n0 : g.b + n0 * g.ldb;
  s.c = g.c + m0 * g.ldc + n0;
  s.bias = g.bias ? g.bias + n0 : nullptr;
  return s;
}

// Splits `tiles` micro-tiles of width `w` among `parts` threads: rows [begin, end) of part p.
void split_range(int64_t total, int w, int parts, int p, int64_t* begin, int64_t* end) {
  const int64_t tiles = ceil_div(total, w);
  const int64_t lo = tiles * p / parts, hi = tiles * (p + 1) / parts;
  *begin = std::min(total, lo * w);
  *end = std::min(total, hi * w);
}

// Chooses a tm x tn thread grid (tm * tn == threads) that balances the multiply work against
// the packing each thread repeats, and against the cache lines of C that two threads would
// both write (a column split whose boundary falls inside a line: each such line then moves
// between the cores).
// `lines_aligned`: every row of C starts on a cache line and NR columns are whole lines.
void choose_grid(const GemmKernelInfo& kr, int64_t m, int64_t n, bool lines_aligned, int threads,
                 int* tm, int* tn) {
  double best = 0;
  for (int r = 1; r <= threads; ++r) {
    if (threads % r) continue;
    const int c = threads / r;
    const double mt = static_cast<double>(ceil_div(ceil_div(m, kr.mr), r) * kr.mr);
    const double nt = static_cast<double>(ceil_div(ceil_div(n, kr.nr), c) * kr.nr);
    // Packing a float costs about as much as several FMAs' share of a tile element.
    double cost = mt * nt + 8.0 * (mt + nt);
    // Column boundaries fall on multiples of NR: unless those are line boundaries in every
    // row, most rows share a line at each boundary.
    if (c > 1 && !lines_aligned) cost += 32.0 * mt * (c - 1);
    if (r == 1 || cost < best) {
      best = cost;
      *tm = r;
      *tn = c;
    }
  }
}

// C has fewer tiles than there are threads (a weight gradient: small M x N, long K): each
// thread multiplies one slice of K into its own buffer, then the slices are summed into C.
void gemm_split_k(const GemmKernelInfo& kr, const GemmArgs& g, int threads) {
  if (threads <= 1) {
    gemm_blocked(kr, g);
    return;
  }
  std::vector<std::vector<float>> partial(threads - 1, std::vector<float>(g.m * g.n));
  run_parallel(threads, [&](int t) {
    const int64_t k0 = g.k * t / threads, k1 = g.k * (t + 1) / threads;
    GemmArgs s = g;
    s.k = k1 - k0;
    s.a = g.trans_a == Trans::kNo ? g.a + k0 : g.a + k0 * g.lda;
    s.b = g.trans_b == Trans::kNo ? g.b + k0 * g.ldb : g.b + k0;
    if (t > 0) {  // other slices: alpha * A_t B_t into a private, dense buffer
      s.beta = 0.0f;
      s.c = partial[t - 1].data();
      s.ldc = g.n;
    }
    gemm_blocked(kr, s);
  });
  for (int64_t i = 0; i < g.m; ++i) {
    float* row = g.c + i * g.ldc;
    for (const auto& p : partial) {
      const float* src = p.data() + i * g.n;
      for (int64_t j = 0; j < g.n; ++j) row[j] += src[j];
    }
  }
}

}  // namespace

Isa gemm_isa() { return dispatched_isa().load(std::memory_order_relaxed); }

void set_gemm_isa(Isa isa) {
  if (!isa_supported(isa)) throw std::invalid_argument("ISA not supported on this CPU");
  dispatched_isa().store(isa, std::memory_order_relaxed);
}

void sgemm(const GemmArgs& args) { sgemm_isa(gemm_isa(), args); }

void sgemm_isa(Isa isa, const GemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == 0.0f) {
    scale_only(g);
    return;
  }
  if (!isa_supported(isa)) throw std::invalid_argument("ISA not supported on this CPU");
  const GemmKernelInfo& kr = kernel_for(isa);
  const double flops = 2.0 * static_cast<double>(g.m) * g.n * g.k;
  const int64_t tiles = ceil_div(g.m, kr.mr) * ceil_div(g.n, kr.nr);
  const int threads = threads_for(flops, tiles);
  if (threads == 1) {
    gemm_blocked(kr, g);
    return;
  }
  if (tiles < threads_for(flops, int64_t{1} << 30) && g.act == Activation::kIdentity && !g.bias &&
      g.k >= 4 * kr.kc) {
    gemm_split_k(kr, g, threads_for(flops, g.k / kr.kc));
    return;
  }
  int tm = 1, tn = threads;
  constexpr int64_t kLineFloats = 64 / sizeof(float);
  const bool lines_aligned = g.ldc % kLineFloats == 0 && kr.nr % kLineFloats == 0 &&
                             reinterpret_cast<uintptr_t>(g.c) % 64 == 0;
  choose_grid(kr, g.m, g.n, lines_aligned, threads, &tm, &tn);
  run_parallel(threads, [&](int t) {
    int64_t m0, m1, n0, n1;
    split_range(g.m, kr.mr, tm, t / tn, &m0, &m1);
    split_range(g.n, kr.nr, tn, t % tn, &n0, &n1);
    if (m1 > m0 && n1 > n0) gemm_blocked(kr, sub_problem(g, m0, m1 - m0, n0, n1 - n0));
  });
}

}  // namespace fastkeras
