// Depthwise 2-D convolution on NHWC float32 tensors as a direct loop, forward and backward.
//
// Every input channel c has its own `m` filters (the depth multiplier): output channel c*m + j
// is input channel c convolved with kernel[:, :, c, j]. Kernel layout (KH, KW, C, M) as Keras
// stores DepthwiseConv2D kernels. A GEMM is a poor fit here (each product has depth KH*KW), so
// the kernel walks output pixels and accumulates one tap (a contiguous row of C*M weights) at a
// time, which the compiler vectorizes along channels.
//
// The dense convolution (im2col + GEMM) lives in kernels/conv2d/conv2d.h; this file reuses its
// Conv2DShape: f is C*M, padding is explicit (TF's 'same' is computed by the caller).
#pragma once

#include <cstdint>

#include "kernels/conv2d/conv2d.h"

namespace fastkeras {

// y = conv(x, w) + bias, y (n, oh, ow, c*m); bias (c*m) may be null. s.f must equal c*m.
void depthwise_conv2d_forward(const Conv2DShape& s, int64_t multiplier, const float* x,
                              const float* w, const float* bias, float* y);

// Gradients of y = conv(x, w) + bias given dy. Any of dx, dw, db may be null (not computed);
// the others are overwritten.
void depthwise_conv2d_backward(const Conv2DShape& s, int64_t multiplier, const float* x,
                               const float* w, const float* dy, float* dx, float* dw, float* db);

}  // namespace fastkeras
