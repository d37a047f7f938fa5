// Embedding lookup, its scatter-add backward (atomicAdd: rows of repeated ids add up in any
// order) and the pooling row gather, on CUDA.
#include "plf/ops.h"
#include "check.cuh"

namespace plf {
namespace cuda {

__global__ void emb_fwd_k(const int64_t* ids, long long n, const float* table, long long dim, float* out) {
  PLF_GRID_STRIDE(t, n * dim) out[t] = table[ids[t / dim] * dim + t % dim];
}
__global__ void emb_bwd_k(const int64_t* ids, long long n, const float* dout, long long dim, float* dtable) {
  PLF_GRID_STRIDE(t, n * dim) atomicAdd(dtable + ids[t / dim] * dim + t % dim, dout[t]);
}
__global__ void gather_fwd_k(const float* x, const int64_t* idx, long long B, long long T, long long H, float* y) {
  PLF_GRID_STRIDE(t, B * H) {
    long long b = t / H;
    y[t] = x[(b * T + idx[b]) * H + t % H];
  }
}
__global__ void gather_bwd_k(const float* dy, const int64_t* idx, long long B, long long T, long long H, float* dx) {
  PLF_GRID_STRIDE(t, B * T * H) {
    long long b = t / (T * H), row = (t / H) % T;
    dx[t] = row == idx[b] ? dy[b * H + t % H] : 0.0f;
  }
}
void embedding_forward(const int64_t* ids, int64_t n, const float* table, int64_t dim, float* out) {
  if (n * dim) emb_fwd_k<<<blocks_for(n * dim, 256), 256>>>(ids, n, table, dim, out);
  check_launch("embedding_forward");
}
void embedding_backward(const int64_t* ids, int64_t n, const float* dout, int64_t dim, float* dtable) {
  if (n * dim) emb_bwd_k<<<blocks_for(n * dim, 256), 256>>>(ids, n, dout, dim, dtable);
  check_launch("embedding_backward");
}
void gather_rows_forward(const float* x, const int64_t* idx, int64_t B, int64_t T, int64_t H, float* y) {
  if (B * H) gather_fwd_k<<<blocks_for(B * H, 256), 256>>>(x, idx, B, T, H, y);
  check_launch("gather_rows_forward");
}
void gather_rows_backward(const float* dy, const int64_t* idx, int64_t B, int64_t T, int64_t H, float* dx) {
  if (B * T * H) gather_bwd_k<<<blocks_for(B * T * H, 256), 256>>>(dy, idx, B, T, H, dx);
  check_launch("gather_rows_backward");
}
}  // namespace cuda
}  // namespace plf
