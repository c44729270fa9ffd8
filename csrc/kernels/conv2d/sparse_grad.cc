#include "kernels/conv2d/sparse_grad.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

constexpr int64_t kLanes = 16;

void sparse_accumulate_generic(const float* const* bases, const float* vals, int64_t count,
                               const int64_t* src_off, float* const* dst, int nv) {
  for (int q = 0; q < nv; ++q) {
    float acc[kLanes] = {};
    for (int64_t j = 0; j < count; ++j) {
      const float* src = bases[j] + src_off[q];
      for (int64_t l = 0; l < kLanes; ++l) acc[l] += vals[j] * src[l];
    }
    for (int64_t l = 0; l < kLanes; ++l) dst[q][l] += acc[l];
  }
}

int64_t collect_nonzeros_generic(const float* row, int64_t n, int32_t* idx, float* val) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (row[i] != 0.0f) {  // NaN counts as nonzero
      idx[count] = static_cast<int32_t>(i);
      val[count++] = row[i];
    }
  }
  return count;
}

// n floats starting on a 64-byte boundary, reused across calls on the calling thread. A 16-float
// vector that straddles two cache lines costs two loads; the windows' vectors are 64-byte
// multiples apart, so one aligned base aligns all of them.
float* aligned_buffer(int slot, int64_t n) {
  thread_local std::vector<float> bufs[3];
  std::vector<float>& buf = bufs[slot];
  if (static_cast<int64_t>(buf.size()) < n + 16) buf.resize(static_cast<size_t>(n + 16));
  const auto addr = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + (64 - addr % 64) % 64 / sizeof(float);
}

bool is_aligned(const float* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

struct SparseKernels {
  SparseAccumulateFn accumulate;
  CollectNonzerosFn collect;
};

SparseKernels kernels_for(Isa isa) {
#if defined(FASTKERAS_X86)
  if (isa == Isa::kAvx512) return {sparse_accumulate_avx512, collect_nonzeros_avx512};
#else
  (void)isa;
#endif
  return {sparse_accumulate_generic, collect_nonzeros_generic};
}

// The 16-float vectors of a window that lies wholly inside the image: their offsets from the
// window's top-left cell in x, and in the window row (kh, kw, c).
struct FullWindow {
  std::vector<int64_t> x_off, window_off;

  explicit FullWindow(const Conv2DShape& s) {
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j)
        for (int64_t v = 0; v < s.c; v += kLanes) {
          x_off.push_back((i * s.dil_h * s.w + j * s.dil_w) * s.c + v);
          window_off.push_back((i * s.kw + j) * s.c + v);
        }
  }
  int64_t vectors() const { return static_cast<int64_t>(x_off.size()); }
};

// Output pixel (n, oy, ox)'s window: where its top-left cell is, and whether it lies wholly
// inside the image (else some taps fall into the padding).
struct Window {
  int64_t top_left = 0;  // offset in x (meaningful when inside)
  bool inside = false;

  Window(const Conv2DShape& s, int64_t n, int64_t oy, int64_t ox) {
    const int64_t iy = oy * s.stride_h - s.pad_top, ix = ox * s.stride_w - s.pad_left;
    inside =
        iy >= 0 && iy + (s.kh - 1) * s.dil_h < s.h && ix >= 0 && ix + (s.kw - 1) * s.dil_w < s.w;
    if (inside) top_left = ((n * s.h + iy) * s.w + ix) * s.c;
  }
};

// The vectors of a window that reaches into the padding, its inside taps only: offsets in the
// window row and in x.
void partial_window(const Conv2DShape& s, int64_t n, int64_t oy, int64_t ox,
                    std::vector<int64_t>* window_off, std::vector<int64_t>* x_off) {
  window_off->clear();
  x_off->clear();
  for (int64_t i = 0; i < s.kh; ++i) {
    const int64_t iy = oy * s.stride_h - s.pad_top + i * s.dil_h;
    for (int64_t j = 0; j < s.kw; ++j) {
      const int64_t ix = ox * s.stride_w - s.pad_left + j * s.dil_w;
      if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
      for (int64_t v = 0; v < s.c; v += kLanes) {
        window_off->push_back((i * s.kw + j) * s.c + v);
        x_off->push_back(((n * s.h + iy) * s.w + ix) * s.c + v);
      }
    }
  }
}

// Calls fn(first, count) over [0, total) in near-equal groups of at most kSparseMaxVectors
// (with fewer than about 8 accumulators the FMA pipes wait on each sum's previous FMA).
template <typename Fn>
void for_each_vector_group(int64_t total, Fn&& fn) {
  const int64_t groups = (total + kSparseMaxVectors - 1) / kSparseMaxVectors;
  for (int64_t g = 0, first = 0; g < groups; ++g) {
    const int64_t end = total * (g + 1) / groups;
    fn(first, static_cast<int>(end - first));
    first = end;
  }
}

}  // namespace

double nonzero_fraction(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
#if defined(FASTKERAS_X86)
  if (gemm_isa() == Isa::kAvx512)
    return static_cast<double>(count_nonzeros_avx512(x, n)) / static_cast<double>(n);
#endif
  int64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) zeros += x[i] == 0.0f;
  return static_cast<double>(n - zeros) / static_cast<double>(n);
}

bool sparse_grad_applicable(const Conv2DShape& s) {
  return gemm_isa() == Isa::kAvx512 && s.c > 0 && s.c % kLanes == 0;
}

void conv2d_input_grad_sparse_isa(Isa isa, const Conv2DShape& s, const float* w, const float* dz,
                                  float* dx) {
  const SparseKernels k = kernels_for(isa);
  const int64_t width = s.kh * s.kw * s.c;
  if (s.n == 0 || s.oh * s.ow == 0 || s.f == 0 || width == 0) return;
  // w^T: row f is filter f's weights over the window, the row each nonzero dz[p, f] scales.
  float* const wt = aligned_buffer(0, s.f * width);
  for (int64_t r = 0; r < width; ++r)
    for (int64_t f = 0; f < s.f; ++f) wt[f * width + r] = w[r * s.f + f];
  const FullWindow full(s);
  const double flops = 2.0 * s.n * s.oh * s.ow * s.f * width * kSparseGradMaxDensity;
  const int threads = threads_for(flops, s.n);
  // Threads over images: each image's dx is written by one thread only.
  run_parallel(threads, [&](int t) {
    std::vector<int32_t> idx(static_cast<size_t>(s.f));
    std::vector<float> val(static_cast<size_t>(s.f));
    std::vector<const float*> rows(static_cast<size_t>(s.f));
    std::vector<float*> dst;
    std::vector<int64_t> window_off, x_off;
    for (int64_t n = t; n < s.n; n += threads) {
      for (int64_t oy = 0; oy < s.oh; ++oy) {
        for (int64_t ox = 0; ox < s.ow; ++ox) {
          const float* g = dz + ((n * s.oh + oy) * s.ow + ox) * s.f;
          const int64_t count = k.collect(g, s.f, idx.data(), val.data());
          if (count == 0) continue;
          for (int64_t j = 0; j < count; ++j) rows[j] = wt + idx[j] * width;
          const Window win(s, n, oy, ox);
          const std::vector<int64_t>* src_off = &full.window_off;
          const std::vector<int64_t>* dst_off = &full.x_off;
          int64_t base = win.top_left;
          if (!win.inside) {
            partial_window(s, n, oy, ox, &window_off, &x_off);
            src_off = &window_off;
            dst_off = &x_off;
            base = 0;
          }
          dst.resize(dst_off->size());
          for (size_t q = 0; q < dst.size(); ++q) dst[q] = dx + base + (*dst_off)[q];
          for_each_vector_group(static_cast<int64_t>(dst.size()), [&](int64_t first, int nv) {
            k.accumulate(rows.data(), val.data(), count, src_off->data() + first,
                         dst.data() + first, nv);
          });
        }
      }
    }
  });
}

void conv2d_kernel_grad_sparse_isa(Isa isa, const Conv2DShape& s, const float* x, const float* dz,
                                   float* dw, float* db) {
  const SparseKernels k = kernels_for(isa);
  const int64_t width = s.kh * s.kw * s.c;
  std::fill(dw, dw + width * s.f, 0.0f);
  if (db) std::fill(db, db + s.f, 0.0f);
  const int64_t pixels = s.n * s.oh * s.ow;
  if (pixels == 0 || s.f == 0 || width == 0) return;
  // Filter f's gradient is summed as row f of dw^T, then transposed into dw at the end.
  float* const dwt = aligned_buffer(1, s.f * width);
  std::fill(dwt, dwt + s.f * width, 0.0f);
  // Every nonzero reads its window's vectors from x: read them from an aligned copy when x
  // itself is not (NumPy's large arrays start 16 bytes past a page).
  if (!is_aligned(x)) {
    const int64_t size = s.n * s.h * s.w * s.c;
    float* copy = aligned_buffer(2, size);
    std::memcpy(copy, x, static_cast<size_t>(size) * sizeof(float));
    x = copy;
  }
  const FullWindow full(s);
  // Pixels are taken in chunks whose windows cover about 32 KB of x, so that every filter's
  // pass over the chunk reads x from L1 rather than L2.
  const int64_t chunk = std::max<int64_t>(16, 8192 / (s.c * s.stride_h * s.stride_w));
  const int threads = threads_for(2.0 * pixels * s.f * width * kSparseGradMaxDensity, s.f);
  // Threads over filters: each owns rows [f0, f1) of dw^T.
  run_parallel(threads, [&](int t) {
    const int64_t f0 = s.f * t / threads, f1 = s.f * (t + 1) / threads, nf = f1 - f0;
    if (nf == 0) return;
    std::vector<int32_t> idx(static_cast<size_t>(nf));
    std::vector<float> val(static_cast<size_t>(nf));
    // Each filter's nonzeros in the chunk whose windows lie inside the image: the window's
    // top-left cell and the value. Windows reaching into the padding are added at once.
    std::vector<int64_t> len(static_cast<size_t>(nf));
    // The bias gradient: each filter's nonzeros summed in pixel order, as a column sum would.
    std::vector<float> bias_sum(static_cast<size_t>(nf), 0.0f);
    std::vector<const float*> bases(static_cast<size_t>(nf * chunk));
    std::vector<float> vals(static_cast<size_t>(nf * chunk));
    std::vector<float*> dst(static_cast<size_t>(full.vectors()));
    std::vector<int64_t> window_off, x_off;
    const float* image = x;
    int64_t n = 0, oy = 0, ox = 0;  // pixel p's coordinates, advanced with p
    for (int64_t p0 = 0; p0 < pixels; p0 += chunk) {
      const int64_t count = std::min(chunk, pixels - p0);
      std::fill(len.begin(), len.end(), 0);
      for (int64_t p = p0; p < p0 + count; ++p) {
        const int64_t found = k.collect(dz + p * s.f + f0, nf, idx.data(), val.data());
        for (int64_t j = 0; j < found; ++j) bias_sum[idx[j]] += val[j];
        if (found > 0) {
          const Window win(s, n, oy, ox);
          if (win.inside) {
            for (int64_t j = 0; j < found; ++j) {
              const int64_t at = idx[j] * chunk + len[idx[j]]++;
              bases[at] = x + win.top_left;
              vals[at] = val[j];
            }
          } else {
            partial_window(s, n, oy, ox, &window_off, &x_off);
            dst.resize(window_off.size());
            for (int64_t j = 0; j < found; ++j) {
              float* row = dwt + (f0 + idx[j]) * width;
              for (size_t q = 0; q < dst.size(); ++q) dst[q] = row + window_off[q];
              for_each_vector_group(static_cast<int64_t>(dst.size()), [&](int64_t first, int nv) {
                k.accumulate(&image, &val[j], 1, x_off.data() + first, dst.data() + first, nv);
              });
            }
          }
        }
        if (++ox == s.ow) {
          ox = 0;
          if (++oy == s.oh) oy = 0, ++n;
        }
      }
      dst.resize(static_cast<size_t>(full.vectors()));
      for (int64_t i = 0; i < nf; ++i) {
        if (len[i] == 0) continue;
        float* row = dwt + (f0 + i) * width;
        for (int64_t q = 0; q < full.vectors(); ++q) dst[q] = row + full.window_off[q];
        for_each_vector_group(full.vectors(), [&](int64_t first, int nv) {
          k.accumulate(bases.data() + i * chunk, vals.data() + i * chunk, len[i],
                       full.x_off.data() + first, dst.data() + first, nv);
        });
      }
    }
    if (db) std::copy(bias_sum.begin(), bias_sum.end(), db + f0);
  });
  for (int64_t f = 0; f < s.f; ++f)
    for (int64_t r = 0; r < width; ++r) dw[r * s.f + f] = dwt[f * width + r];
}

void conv2d_input_grad_sparse(const Conv2DShape& s, const float* w, const float* dz, float* dx) {
  conv2d_input_grad_sparse_isa(gemm_isa(), s, w, dz, dx);
}

void conv2d_kernel_grad_sparse(const Conv2DShape& s, const float* x, const float* dz, float* dw,
                               float* db) {
  conv2d_kernel_grad_sparse_isa(gemm_isa(), s, x, dz, dw, db);
}

}  // namespace fastkeras
