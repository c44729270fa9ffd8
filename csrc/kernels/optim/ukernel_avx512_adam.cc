// Adam's element loop (kernels/optim/adam_rows.h) compiled with AVX-512 flags; optim.cc calls
// this when the GEMM runs on that ISA.
#include "kernels/optim/adam_rows.h"

namespace fastkeras::optim {

void adam_rows_avx512(float* var, const float* grad, float* m, float* v, float* velocity_hat,
                      int64_t begin, int64_t end, const AdamParams& p) {
  adam_rows_impl(var, grad, m, v, velocity_hat, begin, end, p);
}

}  // namespace fastkeras::optim
