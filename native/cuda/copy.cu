// Column slices of row-major matrices on CUDA (q/k/v out of a fused projection) and the KV-cache
// append of a decode step, 16-bit in place.
#include "plf/ops.h"
#include "check.cuh"
#include "act.cuh"
#include "copy.cuh"

namespace plf {
namespace cuda {

void slice_cols_forward(CAct x, int64_t R, int64_t C, int64_t start, int64_t L, Act y) {
  if (R * L)
    by_dtype(x.t, [&](auto t) {
      slice_fwd_k<PLF_DT(t)><<<blocks_for(R * L, 256), 256, 0, stream()>>>(x.p, R, C, start, L, y.p);
    });
  check_launch("slice_cols_forward");
}

void slice_cols_backward(CAct dy, int64_t R, int64_t C, int64_t start, int64_t L, Act dx) {
  if (R * L)
    by_dtype(dy.t, [&](auto t) {
      slice_bwd_k<PLF_DT(t)><<<blocks_for(R * L, 256), 256, 0, stream()>>>(dy.p, R, C, start, L, dx.p);
    });
  check_launch("slice_cols_backward");
}

void cache_write(CAct k, CAct v, int64_t B, int64_t T, int64_t cap, int64_t row, const int64_t* at, Act kc, Act vc) {
  if (B * T * row)
    by_dtype(k.t, [&](auto t) {
      cache_write_k<PLF_DT(t)>
          <<<blocks_for(2 * B * T * row, 256), 256, 0, stream()>>>(k.p, v.p, B, T, cap, row, at, kc.p, vc.p);
    });
  check_launch("cache_write");
}

}  // namespace cuda
}  // namespace plf
