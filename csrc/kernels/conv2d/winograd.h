// Forward 3x3 convolution (stride 1, no dilation) by Winograd's minimal filtering F(2x2, 3x3)
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
//
// Each 2x2 block of outputs comes from the 4x4 block of inputs that covers its windows. With
// the fixed matrices B, G and A below, the block is A^T [(G g G^T) .* (B^T d B)] A for each
// input channel's 4x4 input d and 3x3 kernel slice g, summed over channels. The channel sum of
// each of the 16 elementwise products is one matrix product, so the convolution becomes:
//   V[e] (tiles x c) = the 16 elements e of B^T d B for every tile and channel,
//   U[e] (c x f)     = the 16 elements of G g G^T for every channel and filter,
//   M[e] = V[e] U[e] (16 GEMMs), and y = A^T M A per tile, plus bias and relu.
// 16 products of depth c replace one of depth 9c: 2.25x fewer multiplies for a few additions.
//
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
// A^T = [1 1 1 0; 0 1 -1 -1].
#pragma once

#include <cstdint>

#include "kernels/conv2d/conv2d.h"

namespace fastkeras {

// True when this shape takes the Winograd forward: a 3x3 kernel, stride 1, no dilation, at
// least 16 input channels and 16 filters, and the GEMM dispatching to AVX-512 (where it was
// measured faster than im2col + GEMM).
bool winograd_applicable(const Conv2DShape& s);

// y = act(conv(x, w) + bias), as conv2d_forward. Requires kh == kw == 3, unit strides and
// dilations (any padding).
void winograd_forward(const Conv2DShape& s, const float* x, const float* w, const float* bias,
                      bool relu, float* y);

#if defined(FASTKERAS_X86)
// The kernel transform (ukernel_avx512_winograd.cc): for the cf = c*f (channel, filter) pairs
// of w (3, 3, c, f), u[e * cf + i] = element e of G g G^T for pair i's 3x3 slice g.
void winograd_filter_avx512(const float* w, int64_t cf, float* u);
// One tile's input transform (ukernel_avx512_winograd.cc): d holds the 16 cells of its 4x4
// input, row by row, each pointing at c channels (a row of zeros outside the image); writes
// element e of B^T d B for every channel to v[e * e_stride + 0..c).
void winograd_input_tile_avx512(const float* const* d, int64_t c, float* v, int64_t e_stride);
// One tile's output transform: element e of M for filter k is m[e * e_stride + k]; writes
// act(A^T M A + bias) for the f filters to y[0..3] (cells (0,0), (0,1), (1,0), (1,1); a null
// one lies outside the output). bias may be null.
void winograd_output_tile_avx512(const float* m, int64_t e_stride, int64_t f, const float* bias,
                                 bool relu, float* const* y);
#endif

}  // namespace fastkeras
