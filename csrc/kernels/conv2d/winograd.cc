#include "kernels/conv2d/winograd.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"

namespace fastkeras {
namespace {

// Tiles transformed and multiplied together (V is 16 x 288 x c, M 16 x 288 x f). Measured on
// 13x13x32 -> 64 at batch 32: 0.56 ms with 128, 0.51 ms with 288, 0.55 ms with 576 tiles.
constexpr int64_t kChunkTiles = 288;

float* grow(std::vector<float>* buf, int64_t n) {
  if (static_cast<int64_t>(buf->size()) < n) buf->resize(static_cast<size_t>(n));
  return buf->data();
}

struct Tiling {
  int64_t th, tw;  // tiles down and across one image
  int64_t per_image() const { return th * tw; }
};

#if defined(FASTKERAS_X86)
// V[e][j][:] = (B^T d B)[e] over the channels, for tiles [t0, t0 + count); V[e] is `count` rows
// `e_stride` floats apart. Cells of d outside the image read `zeros`.
void input_transform(const Conv2DShape& s, const Tiling& tl, const float* x, int64_t t0,
                     int64_t count, const float* zeros, float* v, int64_t e_stride) {
  for (int64_t j = 0; j < count; ++j) {
    const int64_t tile = t0 + j;
    const int64_t n = tile / tl.per_image(), ty = tile % tl.per_image() / tl.tw, tx = tile % tl.tw;
    const float* d[16];
    for (int a = 0; a < 4; ++a) {
      const int64_t iy = 2 * ty - s.pad_top + a;
      for (int b = 0; b < 4; ++b) {
        const int64_t ix = 2 * tx - s.pad_left + b;
        const bool inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
        d[a * 4 + b] = inside ? x + ((n * s.h + iy) * s.w + ix) * s.c : zeros;
      }
    }
    winograd_input_tile_avx512(d, s.c, v + j * s.c, e_stride);
  }
}

// y's 2x2 block of each tile = A^T M A (+ bias, relu), the cells inside the output only.
void output_transform(const Conv2DShape& s, const Tiling& tl, const float* m, int64_t e_stride,
                      int64_t t0, int64_t count, const float* bias, bool relu, float* y) {
  for (int64_t j = 0; j < count; ++j) {
    const int64_t tile = t0 + j;
    const int64_t n = tile / tl.per_image(), oy = 2 * (tile % tl.per_image() / tl.tw),
                  ox = 2 * (tile % tl.tw);
    const bool down = oy + 1 < s.oh, right = ox + 1 < s.ow;
    float* y00 = y + ((n * s.oh + oy) * s.ow + ox) * s.f;
    float* out[4] = {y00, right ? y00 + s.f : nullptr, down ? y00 + s.ow * s.f : nullptr,
                     down && right ? y00 + (s.ow + 1) * s.f : nullptr};
    winograd_output_tile_avx512(m + j * s.f, e_stride, s.f, bias, relu, out);
  }
}
#endif

}  // namespace

bool winograd_applicable(const Conv2DShape& s) {
  return gemm_isa() == Isa::kAvx512 && s.kh == 3 && s.kw == 3 && s.stride_h == 1 &&
         s.stride_w == 1 && s.dil_h == 1 && s.dil_w == 1 && s.c >= 16 && s.f >= 16;
}

void winograd_forward(const Conv2DShape& s, const float* x, const float* w, const float* bias,
                      bool relu, float* y) {
#if !defined(FASTKERAS_X86)
  (void)s, (void)x, (void)w, (void)bias, (void)relu, (void)y;
  throw std::logic_error("winograd_forward: no kernels for this CPU");
#else
  const Tiling tl{(s.oh + 1) / 2, (s.ow + 1) / 2};
  const int64_t tiles = s.n * tl.per_image();
  if (tiles == 0 || s.f == 0) return;
  // Smaller chunks when there are too few tiles to give every thread one (a small batch).
  const int wanted = threads_for(2.0 * 16 * tiles * s.c * s.f, tiles);
  const int64_t chunk_tiles = std::min(kChunkTiles, (tiles + wanted - 1) / wanted);
  const int64_t chunks = (tiles + chunk_tiles - 1) / chunk_tiles;
  const int threads = static_cast<int>(std::min<int64_t>(wanted, chunks));
  // Each thread transforms the kernel for itself (a few microseconds), then takes whole chunks
  // of tiles through all three stages: no barrier anywhere.
  run_parallel(threads, [&](int t) {
    thread_local std::vector<float> u_buf, v_buf, m_buf, zero_buf;
    float* const u = grow(&u_buf, 16 * s.c * s.f);
    winograd_filter_avx512(w, s.c * s.f, u);
    float* const v = grow(&v_buf, 16 * chunk_tiles * s.c);
    float* const m = grow(&m_buf, 16 * chunk_tiles * s.f);
    zero_buf.assign(static_cast<size_t>(s.c), 0.0f);
    for (int64_t chunk = t; chunk < chunks; chunk += threads) {
      const int64_t t0 = chunk * chunk_tiles, count = std::min(chunk_tiles, tiles - t0);
      input_transform(s, tl, x, t0, count, zero_buf.data(), v, chunk_tiles * s.c);
      for (int e = 0; e < 16; ++e) {
        GemmArgs g;
        g.m = count;
        g.n = s.f;
        g.k = s.c;
        g.a = v + e * chunk_tiles * s.c;
        g.lda = s.c;
        g.b = u + e * s.c * s.f;
        g.ldb = s.f;
        g.c = m + e * chunk_tiles * s.f;
        g.ldc = s.f;
        sgemm(g);
      }
      output_transform(s, tl, m, chunk_tiles * s.f, t0, count, bias, relu, y);
    }
  });
#endif
}

}  // namespace fastkeras
