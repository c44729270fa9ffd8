// Conv2D(relu) directly followed by MaxPooling2D(2) (pool 2x2, stride 2, 'valid'), as one
// operation, for a first layer on few input channels (the direct convolution's shapes: stride 1,
// no dilation, no padding).
//
// Apart, the pair writes the convolution's whole output to memory, the pooling reads it back,
// the pooling's backward writes a gradient as large (three in four cells zero) and the
// convolution's backward reads that and the output again: for 28x28 images, 32 filters and batch
// 32, four passes over 2.8 MB each step. Together, each image's convolution output lives in a
// per-thread buffer only while it is pooled, and the backward pass rebuilds one image's output
// gradient at a time from the pooled gradient and the position of each window's maximum.
//
// The results are those of the two layers: the same convolution kernel, the same first-wins
// pooling (ties and NaNs as maxpool2d_forward), and a kernel gradient summed image by image.
#pragma once

#include <cstdint>

#include "kernels/conv2d/conv2d.h"

namespace fastkeras {

// True when the pair runs as one operation on this shape and CPU.
bool conv_relu_maxpool_applicable(const Conv2DShape& s);

// y (n, oh/2, ow/2, f) = maxpool2x2(relu(conv(x, w) + bias)); which[i] (same shape) = the
// position of y[i]'s cell in its window, 0..3 row by row. bias may be null.
void conv_relu_maxpool_forward(const Conv2DShape& s, const float* x, const float* w,
                               const float* bias, float* y, int32_t* which);

// The kernel and bias gradients (overwritten; either may be null) for the gradient dy of y. x is
// not differentiated (a first layer's input).
void conv_relu_maxpool_backward(const Conv2DShape& s, const float* x, const float* y,
                                const int32_t* which, const float* dy, float* dw, float* db);

#if defined(FASTKERAS_X86)
// One window's max over its four cells' f filters (ukernel_avx512_conv_pool.cc): y[k] and
// which[k] = the max of cells[0..3][k] and its cell, the first cell winning ties and the first
// NaN winning over everything, as maxpool2d_forward.
void pool_window_avx512(const float* const* cells, int64_t f, float* y, int32_t* which);
// One window's output gradient: cells[a][k] = dy[k] where which[k] == a and y[k] > 0, else 0.
void unpool_window_avx512(const float* y, const float* dy, const int32_t* which, int64_t f,
                          float* const* cells);
#endif

}  // namespace fastkeras
