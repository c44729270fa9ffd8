// Kernel and input gradients of a 2-D convolution whose output gradient is mostly zeros.
//
// Behind a max pooling only one output of each pooling window receives a gradient, and behind a
// relu only the positive ones do: for a Conv2D(relu) -> MaxPooling2D(2) pair, 80-90% of the
// convolution's output gradient dz is exactly zero. The GEMMs of the dense backward pass
// multiply all of those zeros. These kernels visit only the nonzeros:
//
//   input gradient:  for each output pixel p and each nonzero dz[p, f]:
//                      dx[window(p)] += dz[p, f] * w[:, f]          (w[:, f] read as a row of w^T)
//   kernel gradient: for each filter f and each pixel p with dz[p, f] != 0:
//                      dw[:, f] += dz[p, f] * x[window(p)]
//
// The sums visit the same terms as the dense pass, in a different order, and skip the zero
// ones (so a NaN or inf in w or x that the dense pass would multiply by zero does not spread).
//
// Both need the channel count to be a multiple of 16: a 16-float vector of a window then never
// straddles two taps, so each vector of a window row is one load from the image.
#pragma once

#include <cstdint>

#include "kernels/conv2d/conv2d.h"
#include "kernels/cpu_features.h"

namespace fastkeras {

// dz densities (nonzeros / elements) up to which conv2d_backward takes the sparse kernels.
// Measured on the Fashion-MNIST CNN's second convolution (batch 32, 13x13x32 -> 64 filters,
// two threads): both gradients take 0.4-0.5 ms at density 0.1, 1.1-1.2 ms at 0.4 and 1.6-1.7
// ms at 0.6, against 1.6 ms for the dense GEMMs at any density.
constexpr double kSparseGradMaxDensity = 0.45;

// Fraction of nonzeros among n floats (NaNs count as nonzero).
double nonzero_fraction(const float* x, int64_t n);

// True when the sparse kernels handle this shape on the ISA the GEMM dispatches to (the vector
// loops exist for AVX-512; elsewhere the dense GEMMs stay the faster choice).
bool sparse_grad_applicable(const Conv2DShape& s);

// dx += input gradient of the convolution for the output gradient dz (n, oh, ow, f); w is the
// kernel (kh, kw, c, f). s.c must be a multiple of 16.
void conv2d_input_grad_sparse(const Conv2DShape& s, const float* w, const float* dz, float* dx);

// dw = kernel gradient (kh, kw, c, f) for input x and output gradient dz (overwritten), and,
// when db is not null, db = the bias gradient (dz's column sums; overwritten). s.c must be a
// multiple of 16.
void conv2d_kernel_grad_sparse(const Conv2DShape& s, const float* x, const float* dz, float* dw,
                               float* db = nullptr);

// The same two on a given ISA (generic or AVX-512; for tests and benchmarks).
void conv2d_input_grad_sparse_isa(Isa isa, const Conv2DShape& s, const float* w, const float* dz,
                                  float* dx);
void conv2d_kernel_grad_sparse_isa(Isa isa, const Conv2DShape& s, const float* x, const float* dz,
                                   float* dw, float* db = nullptr);

// --- the per-ISA inner loops (ukernel_avx512_sparse_grad.cc; a plain-C++ form in
// sparse_grad.cc) ---

// Up to this many 16-float vectors are summed in registers per call.
constexpr int kSparseMaxVectors = 12;

// For q < nv (1..kSparseMaxVectors), the 16 floats at dst[q] += sum over j < count of
// vals[j] * (the 16 floats at bases[j] + src_off[q]).
using SparseAccumulateFn = void (*)(const float* const* bases, const float* vals, int64_t count,
                                    const int64_t* src_off, float* const* dst, int nv);
// Writes the positions (into idx) and values (into val) of row[0..n)'s nonzeros, in order;
// returns how many there are.
using CollectNonzerosFn = int64_t (*)(const float* row, int64_t n, int32_t* idx, float* val);

#if defined(FASTKERAS_X86)
void sparse_accumulate_avx512(const float* const* bases, const float* vals, int64_t count,
                              const int64_t* src_off, float* const* dst, int nv);
int64_t collect_nonzeros_avx512(const float* row, int64_t n, int32_t* idx, float* val);
// How many of x[0..n) are nonzero (NaNs count).
int64_t count_nonzeros_avx512(const float* x, int64_t n);
#endif

}  // namespace fastkeras
