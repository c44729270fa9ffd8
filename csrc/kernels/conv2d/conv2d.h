// 2-D convolution on NHWC float32 tensors as im2col + the foundation's GEMM (bias and relu fused
// into its epilogue), and its backward pass (kernel, bias and input gradients, col2im).
//
// Kernel layout (KH, KW, C, F) as Keras stores it; row-major it is the (KH*KW*C, F) matrix the
// GEMM multiplies im2col rows by. Padding is explicit (TF's 'same' is computed by the caller:
// the extra row/column goes at the bottom/right).
#pragma once

#include <cstdint>

namespace fastkeras {

struct Conv2DShape {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input
  int64_t kh = 1, kw = 1, f = 0;       // kernel and filters
  int64_t stride_h = 1, stride_w = 1;
  int64_t dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // bottom/right padding is implied by oh/ow
  int64_t oh = 0, ow = 0;             // output
};

// Output size for one axis given total padding: (in + pad - dil*(k-1) - 1) / stride + 1.
int64_t conv_output_size(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad_total);

// Fills the im2col rows for images [n0, n0 + count): row (n, oh, ow), columns (kh, kw, c).
// Padding cells are zeros. col has count*oh*ow rows of kh*kw*c floats.
void im2col_nhwc(const Conv2DShape& s, const float* x, int64_t n0, int64_t count, float* col);

// Adds im2col-shaped gradients back into dx for images [n0, n0 + count) (dx is not cleared).
void col2im_nhwc(const Conv2DShape& s, const float* dcol, int64_t n0, int64_t count, float* dx);

// Whether conv2d_forward goes through im2col for this shape (so a keep_col would be filled):
// not for the direct, Winograd and 1x1 paths.
bool conv2d_uses_im2col(const Conv2DShape& s);

// y = act(conv(x, w) + bias). y is (n, oh, ow, f); bias may be null.
// keep_col: null, or room for the whole batch's im2col (n*oh*ow rows of kh*kw*c floats). When
// this shape goes through im2col, the columns are built there (instead of in tiles of a reused
// buffer) so the backward pass can read them again; returns true when keep_col was filled.
bool conv2d_forward(const Conv2DShape& s, const float* x, const float* w, const float* bias,
                    bool relu, float* y, float* keep_col = nullptr);

// Backward of y = act(conv(x, w) + b). With relu, y (the forward output) gives the mask. Any of
// dx, dw, db may be null (not computed). dw/db are overwritten, dx too. col: the im2col a
// conv2d_forward of the same x filled (it returned true), or null to rebuild it.
void conv2d_backward(const Conv2DShape& s, const float* x, const float* w, const float* y,
                     const float* dy, bool relu, float* dx, float* dw, float* db,
                     const float* col = nullptr);

}  // namespace fastkeras
