#include "kernels/conv2d/conv2d.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/conv2d/direct_conv.h"
#include "kernels/conv2d/sparse_grad.h"
#include "kernels/conv2d/winograd.h"
#include "kernels/elementwise/bias.h"
#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

// The im2col buffer of one tile of images stays under this many floats (16 MB), so a large
// batch is processed in tiles instead of allocating a batch-sized column matrix.
constexpr int64_t kMaxColFloats = int64_t{4} << 20;

int64_t col_width(const Conv2DShape& s) { return s.kh * s.kw * s.c; }
int64_t rows_per_image(const Conv2DShape& s) { return s.oh * s.ow; }

// A 1x1, stride-1, unpadded convolution needs no im2col: the input already is the matrix.
bool is_pointwise(const Conv2DShape& s) {
  return s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0 && s.oh == s.h && s.ow == s.w;
}

int64_t tile_images(const Conv2DShape& s) {
  const int64_t per_image = std::max<int64_t>(1, rows_per_image(s) * col_width(s));
  return std::max<int64_t>(1, std::min(s.n, kMaxColFloats / per_image));
}

// The column buffer, reused across calls on this thread.
float* column_buffer(size_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats) buf.resize(floats);
  return buf.data();
}

// One output row (n, oy, ox) of im2col: kh*kw*c floats.
void im2col_row(const Conv2DShape& s, const float* x, int64_t n, int64_t oy, int64_t ox,
                float* dst) {
  const int64_t c = s.c;
  for (int64_t i = 0; i < s.kh; ++i) {
    const int64_t iy = oy * s.stride_h - s.pad_top + i * s.dil_h;
    for (int64_t j = 0; j < s.kw; ++j) {
      const int64_t ix = ox * s.stride_w - s.pad_left + j * s.dil_w;
      if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) {
        for (int64_t k = 0; k < c; ++k) dst[k] = 0.0f;
      } else {
        // A plain loop: with few channels (c=1 for a grey image) a memcpy call per cell
        // costs far more than the copy.
        const float* src = x + ((n * s.h + iy) * s.w + ix) * c;
        for (int64_t k = 0; k < c; ++k) dst[k] = src[k];
      }
      dst += c;
    }
  }
}

}  // namespace

int64_t conv_output_size(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad_total) {
  const int64_t span = dil * (k - 1) + 1;
  if (in + pad_total < span) return 0;
  return (in + pad_total - span) / stride + 1;
}

void im2col_nhwc(const Conv2DShape& s, const float* x, int64_t n0, int64_t count, float* col) {
  const int64_t rows = count * rows_per_image(s);
  const int64_t width = col_width(s);
  const int threads = threads_for(static_cast<double>(rows) * width * 4.0, rows);
  run_parallel(threads, [&](int t) {
    const int64_t lo = rows * t / threads, hi = rows * (t + 1) / threads;
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = n0 + r / rows_per_image(s);
      const int64_t rem = r % rows_per_image(s);
      im2col_row(s, x, n, rem / s.ow, rem % s.ow, col + r * width);
    }
  });
}

void col2im_nhwc(const Conv2DShape& s, const float* dcol, int64_t n0, int64_t count, float* dx) {
  const int64_t width = col_width(s);
  const int64_t per_image = rows_per_image(s);
  // Threads over images: the rows of one image only touch that image's gradient.
  const int threads = threads_for(static_cast<double>(count) * per_image * width * 4.0, count);
  run_parallel(threads, [&](int t) {
    for (int64_t b = t; b < count; b += threads) {
      const int64_t n = n0 + b;
      for (int64_t oy = 0; oy < s.oh; ++oy) {
        for (int64_t ox = 0; ox < s.ow; ++ox) {
          const float* src = dcol + ((b * s.oh + oy) * s.ow + ox) * width;
          for (int64_t i = 0; i < s.kh; ++i) {
            const int64_t iy = oy * s.stride_h - s.pad_top + i * s.dil_h;
            for (int64_t j = 0; j < s.kw; ++j, src += s.c) {
              const int64_t ix = ox * s.stride_w - s.pad_left + j * s.dil_w;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              float* d = dx + ((n * s.h + iy) * s.w + ix) * s.c;
              for (int64_t ch = 0; ch < s.c; ++ch) d[ch] += src[ch];
            }
          }
        }
      }
    }
  });
}

bool conv2d_uses_im2col(const Conv2DShape& s) {
  return !direct_conv_applicable(s) && !winograd_applicable(s) && !is_pointwise(s);
}

bool conv2d_forward(const Conv2DShape& s, const float* x, const float* w, const float* bias,
                    bool relu, float* y, float* keep_col) {
  const int64_t width = col_width(s);
  const int64_t per_image = rows_per_image(s);
  if (s.n == 0 || per_image == 0 || s.f == 0) return false;
  if (direct_conv_applicable(s)) {
    direct_conv_forward(s, x, w, bias, relu, y);
    return false;
  }
  if (winograd_applicable(s)) {
    winograd_forward(s, x, w, bias, relu, y);
    return false;
  }
  const bool pointwise = is_pointwise(s);
  const bool keep = keep_col != nullptr && !pointwise;
  const int64_t tile = pointwise || keep ? s.n : tile_images(s);
  float* col = pointwise ? nullptr
               : keep    ? keep_col
                         : column_buffer(static_cast<size_t>(tile * per_image * width));
  for (int64_t n0 = 0; n0 < s.n; n0 += tile) {
    const int64_t count = std::min(tile, s.n - n0);
    const float* a = x + n0 * s.h * s.w * s.c;
    if (!pointwise) {
      im2col_nhwc(s, x, n0, count, col);
      a = col;
    }
    GemmArgs g;
    g.m = count * per_image;
    g.n = s.f;
    g.k = width;
    g.a = a;
    g.lda = width;
    g.b = w;
    g.ldb = s.f;
    g.c = y + n0 * per_image * s.f;
    g.ldc = s.f;
    g.bias = bias;
    g.act = relu ? Activation::kRelu : Activation::kIdentity;
    sgemm(g);
  }
  return keep;
}

void conv2d_backward(const Conv2DShape& s, const float* x, const float* w, const float* y,
                     const float* dy, bool relu, float* dx, float* dw, float* db,
                     const float* kept_col) {
  const int64_t width = col_width(s);
  const int64_t per_image = rows_per_image(s);
  const int64_t out_elems = s.n * per_image * s.f;
  if (dx) std::fill(dx, dx + s.n * s.h * s.w * s.c, 0.0f);
  if (dw) std::fill(dw, dw + width * s.f, 0.0f);
  if (db) std::fill(db, db + s.f, 0.0f);
  if (out_elems == 0) return;
  // Few input channels: the kernel and bias gradients come from the direct kernel, which reads
  // x in place and applies the relu mask on the fly; only dx (rarely wanted for a first layer)
  // still goes through the GEMM below.
  if ((dw || db) && direct_conv_applicable(s)) {
    direct_conv_weight_grad(s, x, relu ? y : nullptr, dy, dw, db);
    dw = db = nullptr;
  }
  if (!dx && !dw && !db) return;

  // relu passes the gradient only where the output was positive.
  thread_local std::vector<float> masked;
  const float* dz = dy;
  if (relu) {
    if (static_cast<int64_t>(masked.size()) < out_elems) masked.resize(out_elems);
    relu_backward(y, dy, masked.data(), out_elems);
    dz = masked.data();
  }
  // Mostly zeros (behind a max pooling and a relu): visit only the nonzeros. The kernel
  // gradient's pass over them gives the bias gradient too.
  if ((dx || dw) && sparse_grad_applicable(s) &&
      nonzero_fraction(dz, out_elems) <= kSparseGradMaxDensity) {
    if (dw) conv2d_kernel_grad_sparse(s, x, dz, dw, db);
    if (db && !dw) column_sums(dz, s.n * per_image, s.f, s.f, 0.0f, db);
    if (dx) conv2d_input_grad_sparse(s, w, dz, dx);
    return;
  }
  if (db) column_sums(dz, s.n * per_image, s.f, s.f, 0.0f, db);
  if (!dx && !dw) return;

  const bool pointwise = is_pointwise(s);
  // With the forward's columns at hand the whole batch is one tile: no im2col to redo.
  const bool kept = kept_col != nullptr && !pointwise;
  const int64_t tile = pointwise || kept ? s.n : tile_images(s);
  float* col = pointwise || kept || !dw
                   ? nullptr
                   : column_buffer(static_cast<size_t>(tile * per_image * width));
  thread_local std::vector<float> dcol_buf;
  for (int64_t n0 = 0; n0 < s.n; n0 += tile) {
    const int64_t count = std::min(tile, s.n - n0);
    const int64_t rows = count * per_image;
    const float* dz_tile = dz + n0 * per_image * s.f;
    if (dw) {
      const float* a = x + n0 * s.h * s.w * s.c;
      if (kept) {
        a = kept_col;
      } else if (!pointwise) {
        im2col_nhwc(s, x, n0, count, col);
        a = col;
      }
      GemmArgs g;  // dW += col^T dz
      g.trans_a = Trans::kYes;
      g.m = width;
      g.n = s.f;
      g.k = rows;
      g.a = a;
      g.lda = width;
      g.b = dz_tile;
      g.ldb = s.f;
      g.beta = 1.0f;
      g.c = dw;
      g.ldc = s.f;
      sgemm(g);
    }
    if (dx) {
      float* dst = dx + n0 * s.h * s.w * s.c;
      float* dcol = dst;  // pointwise: the column gradient is the input gradient
      if (!pointwise) {
        if (static_cast<int64_t>(dcol_buf.size()) < rows * width) dcol_buf.resize(rows * width);
        dcol = dcol_buf.data();
      }
      GemmArgs g;  // dcol = dz W^T
      g.trans_b = Trans::kYes;
      g.m = rows;
      g.n = width;
      g.k = s.f;
      g.a = dz_tile;
      g.lda = s.f;
      g.b = w;
      g.ldb = s.f;
      g.c = dcol;
      g.ldc = width;
      sgemm(g);
      if (!pointwise) col2im_nhwc(s, dcol, n0, count, dx);
    }
  }
}

}  // namespace fastkeras
