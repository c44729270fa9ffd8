// Direct 2-D convolution for inputs with few channels (a grey or RGB image as the first layer).
//
// With c <= 4 a 3x3 kernel gives im2col rows of 9..36 floats: far too short for the GEMM's
// packing and blocking to pay, while the im2col matrix and the GEMM's packed copy of it cost
// more memory traffic than the multiplies. These kernels read the input in place instead: each
// output pixel's taps are found through a table of offsets, the (taps, f) weights are read from
// L1 for every pixel, and bias, relu and (backward) the relu mask and bias gradient are fused.
//
// The drivers here split the work over threads and handle the image borders (a pixel whose
// window reaches into the padding gets a zero-filled copy of its patch); the per-ISA
// micro-kernels (ukernel_avx512_direct_conv.cc) do the arithmetic on runs of pixels.
#pragma once

#include <cstdint>

#include "kernels/conv2d/conv2d.h"

namespace fastkeras {

// Input channels up to which the direct kernels replace im2col + GEMM.
constexpr int64_t kDirectConvMaxChannels = 4;

// A run of `count` consecutive output pixels of one output row. Tap k of pixel p is
// src[p * pixel_stride + tap_offset[k]]; taps are ordered (kh, kw, c), as the kernel's rows.
struct DirectConvRun {
  const float* src;
  int64_t pixel_stride;
  const int64_t* tap_offset;
  int64_t taps;
  int64_t count;
};

// y[p, :] = act(sum_k tap(p, k) * w[k, :] + bias) for the run's pixels; y is count x f
// (contiguous, NHWC), w is taps x f, bias (f floats) may be null.
using DirectConvForwardFn = void (*)(const DirectConvRun& run, const float* w, const float* bias,
                                     int64_t f, bool relu, float* y);
// With g[p, :] = dy[p, :], masked to y[p, :] > 0 when y is not null (relu's backward):
// dw[k, :] += sum_p tap(p, k) * g[p, :] and db[:] += sum_p g[p, :]. dy and y are count x f.
using DirectConvWeightGradFn = void (*)(const DirectConvRun& run, const float* y, const float* dy,
                                        int64_t f, float* dw, float* db);

#if defined(FASTKERAS_X86)
void direct_conv_forward_avx512(const DirectConvRun& run, const float* w, const float* bias,
                                int64_t f, bool relu, float* y);
void direct_conv_weight_grad_avx512(const DirectConvRun& run, const float* y, const float* dy,
                                    int64_t f, float* dw, float* db);
#endif

// True when the direct kernels handle this shape on the ISA the GEMM dispatches to (they exist
// for AVX-512 only; elsewhere im2col + GEMM stays the faster choice).
bool direct_conv_applicable(const Conv2DShape& s);

// Same contracts as conv2d_forward, and as conv2d_backward's dw/db (either may be null; both
// are overwritten). relu_y is the forward output when the activation is relu, else null.
void direct_conv_forward(const Conv2DShape& s, const float* x, const float* w, const float* bias,
                         bool relu, float* y);
void direct_conv_weight_grad(const Conv2DShape& s, const float* x, const float* relu_y,
                             const float* dy, float* dw, float* db);

}  // namespace fastkeras
