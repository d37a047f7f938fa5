// RMSNorm and LayerNorm on CUDA: one block per row (statistics in double, as the CPU), weight
// grads by one thread per column summing rows in order (deterministic, no atomics).
#include "plf/ops.h"
#include "check.cuh"
#include "norm.cuh"

namespace plf {
namespace cuda {

void rmsnorm_forward(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* y, float* rstd) {
  if (rows) rms_fwd_k<<<unsigned(rows), kNormT>>>(x, w, dim, eps, y, rstd);
  check_launch("rmsnorm_forward");
}

void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, int64_t rows, int64_t dim,
                      float* dx, float* dw, bool accumulate) {
  if (dx && rows) rms_bwd_dx_k<<<unsigned(rows), kNormT>>>(dy, x, w, rstd, dim, dx);
  if (dw) rms_bwd_dw_k<<<blocks_for(dim, 128), 128>>>(dy, x, rstd, rows, dim, dw, accumulate);
  check_launch("rmsnorm_backward");
}

void layernorm_forward(const float* x, const float* w, const float* b, int64_t rows, int64_t dim, float eps, float* y,
                       float* mean, float* rstd) {
  if (rows) ln_fwd_k<<<unsigned(rows), kNormT>>>(x, w, b, dim, eps, y, mean, rstd);
  check_launch("layernorm_forward");
}

void layernorm_backward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                        int64_t rows, int64_t dim, float* dx, float* dw, float* db, bool accumulate) {
  if (dx && rows) ln_bwd_dx_k<<<unsigned(rows), kNormT>>>(dy, x, w, mean, rstd, dim, dx);
  if (dw || db) ln_bwd_dwb_k<<<blocks_for(dim, 128), 128>>>(dy, x, mean, rstd, rows, dim, dw, db, accumulate);
  check_launch("layernorm_backward");
}

}  // namespace cuda
}  // namespace plf
