// Packing of op(A) and op(B) blocks into the contiguous micro-panels the micro-kernels read.
// Rows/columns past the matrix edge are padded with zeros so every micro-panel is full.
#pragma once

#include <cstdint>

#include "kernels/gemm/gemm.h"

namespace fastkeras {

// Packs op(A)[i0:i0+mc, k0:k0+kc] into ceil(mc/mr) micro-panels of mr x kc, each stored as
// kc groups of mr floats.
void pack_a_block(Trans trans, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t k0,
                  int64_t kc, int mr, float* dst);

// Packs op(B)[k0:k0+kc, j0:j0+nc] into ceil(nc/nr) micro-panels of kc x nr, each stored as
// kc groups of nr floats.
void pack_b_block(Trans trans, const float* b, int64_t ldb, int64_t k0, int64_t kc, int64_t j0,
                  int64_t nc, int nr, float* dst);

}  // namespace fastkeras
