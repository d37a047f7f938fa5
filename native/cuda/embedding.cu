// Embedding lookup, its scatter-add backward (atomicAdd: rows of repeated ids add up in any
// order) and the pooling row gather, on CUDA; activations of any float dtype in place (the table
// and the output of the lookup may differ: an f32 table, bf16 activations).
#include "plf/ops.h"
#include "check.cuh"
#include "act.cuh"
#include "embedding.cuh"

namespace plf {
namespace cuda {

void embedding_forward(const int64_t* ids, int64_t n, CAct table, int64_t V, int64_t dim, Act out) {
  if (n * dim)
    by_dtype(table.t, [&](auto tt) {
      by_dtype(out.t, [&](auto to) {
        emb_fwd_k<PLF_DT(tt), PLF_DT(to)>
            <<<blocks_for(n * dim, 256), 256, 0, stream()>>>(ids, n, table.p, V, dim, out.p);
      });
    });
  check_launch("embedding_forward");
}
void embedding_backward(const int64_t* ids, int64_t n, CAct dout, int64_t dim, float* dtable) {
  if (n * dim)
    by_dtype(dout.t, [&](auto t) {
      emb_bwd_k<PLF_DT(t)><<<blocks_for(n * dim, 256), 256, 0, stream()>>>(ids, n, dout.p, dim, dtable);
    });
  check_launch("embedding_backward");
}
void gather_rows_forward(CAct x, const int64_t* idx, int64_t B, int64_t T, int64_t H, Act y) {
  if (B * H)
    by_dtype(x.t, [&](auto t) {
      gather_fwd_k<PLF_DT(t)><<<blocks_for(B * H, 256), 256, 0, stream()>>>(x.p, idx, B, T, H, y.p);
    });
  check_launch("gather_rows_forward");
}
void gather_rows_backward(CAct dy, const int64_t* idx, int64_t B, int64_t T, int64_t H, Act dx) {
  if (B * T * H)
    by_dtype(dy.t, [&](auto t) {
      gather_bwd_k<PLF_DT(t)><<<blocks_for(B * T * H, 256), 256, 0, stream()>>>(dy.p, idx, B, T, H, dx.p);
    });
  check_launch("gather_rows_backward");
}
}  // namespace cuda
}  // namespace plf
