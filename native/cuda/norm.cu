// RMSNorm and LayerNorm on CUDA: one block per row (statistics in double, as the CPU), weight
// grads by one thread per column summing rows in order (deterministic, no atomics).
#include "plf/ops.h"
#include "check.cuh"
#include "act.cuh"
#include "norm.cuh"

namespace plf {
namespace cuda {

// kernel<T> with T the activations' dtype (one dtype per call, see Op::acts)
#define PLF_NORM_LAUNCH(kernel, like, grid, threads, ...) \
  by_dtype((like).t, [&](auto tag) { kernel<PLF_DT(tag)><<<grid, threads, 0, stream()>>>(__VA_ARGS__); })

void rmsnorm_forward(CAct x, const float* w, int64_t rows, int64_t dim, float eps, Act y, float* rstd) {
  if (rows) PLF_NORM_LAUNCH(rms_fwd_k, x, unsigned(rows), kNormT, x.p, w, dim, eps, y.p, rstd);
  check_launch("rmsnorm_forward");
}

void rmsnorm_backward(CAct dy, CAct x, const float* w, const float* rstd, int64_t rows, int64_t dim, Act dx, float* dw,
                      bool accumulate) {
  if (dx.p && rows) PLF_NORM_LAUNCH(rms_bwd_dx_k, x, unsigned(rows), kNormT, dy.p, x.p, w, rstd, dim, dx.p);
  if (dw) PLF_NORM_LAUNCH(rms_bwd_dw_k, x, blocks_for(dim, 128), 128, dy.p, x.p, rstd, rows, dim, dw, accumulate);
  check_launch("rmsnorm_backward");
}

void layernorm_forward(CAct x, const float* w, const float* b, int64_t rows, int64_t dim, float eps, Act y, float* mean,
                       float* rstd) {
  if (rows) PLF_NORM_LAUNCH(ln_fwd_k, x, unsigned(rows), kNormT, x.p, w, b, dim, eps, y.p, mean, rstd);
  check_launch("layernorm_forward");
}

void layernorm_backward(CAct dy, CAct x, const float* w, const float* mean, const float* rstd, int64_t rows,
                        int64_t dim, Act dx, float* dw, float* db, bool accumulate) {
  if (dx.p && rows) PLF_NORM_LAUNCH(ln_bwd_dx_k, x, unsigned(rows), kNormT, dy.p, x.p, w, mean, rstd, dim, dx.p);
  if (dw || db)
    PLF_NORM_LAUNCH(ln_bwd_dwb_k, x, blocks_for(dim, 128), 128, dy.p, x.p, mean, rstd, rows, dim, dw, db, accumulate);
  check_launch("layernorm_backward");
}

}  // namespace cuda
}  // namespace plf
