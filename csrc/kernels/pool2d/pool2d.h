// 2-D max and average pooling on NHWC float32 tensors, forward and backward.
#pragma once

#include <cstdint>

namespace fastkeras {

struct Pool2DShape {
  int64_t n = 0, h = 0, w = 0, c = 0;
  int64_t ph = 1, pw = 1;  // window
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // padded cells never win a max and are not averaged
  int64_t oh = 0, ow = 0;
};

// y[n, oy, ox, c] = max over the window; argmax[...] = the winning input's flat index within
// its image ((iy * w + ix) * c + ch), the first one on ties; a NaN anywhere in the window is the
// max (the first NaN's index), as in Keras. A window entirely in padding (impossible with TF's
// padding rules) gives -inf and index -1.
void maxpool2d_forward(const Pool2DShape& s, const float* x, float* y, int32_t* argmax);
// dx = 0, then dx[argmax] += dy (dx is overwritten). Non-overlapping windows (stride >= window,
// the usual case) take one pass that writes every cell once; there an index is only compared
// with its window's cells (one outside its window receives nothing). Overlapping windows
// scatter-add; an index outside the image is skipped there and makes the call return false.
bool maxpool2d_backward(const Pool2DShape& s, const float* dy, const int32_t* argmax, float* dx);

// y = mean over the window's cells inside the image (TF's 'same' average pooling).
void avgpool2d_forward(const Pool2DShape& s, const float* x, float* y);
void avgpool2d_backward(const Pool2DShape& s, const float* dy, float* dx);

#if defined(FASTKERAS_X86)
// One image each (NHWC, the shape's n ignored): the AVX-512 forward, and the backward over
// disjoint windows, which writes every cell inside a window and leaves the others alone.
void maxpool2d_image_forward_avx512(const Pool2DShape& s, const float* xi, float* yi,
                                    int32_t* argmax_i);
void maxpool2d_image_backward_disjoint_avx512(const Pool2DShape& s, const float* dyi,
                                              const int32_t* argmax_i, float* dxi);
#endif

}  // namespace fastkeras
