// Embedding lookup/scatter-add and the pooling row gather (embedding.cu launches them), templated on
// the activation dtypes: device code only, so the CPU emulator (test/cuda-emu) compiles it too; the
// includer provides PLF_GRID_STRIDE and atomicAdd.
#pragma once
#include "plf/act.h"

namespace plf {
namespace cuda {

template <DType TT, DType TO>
__global__ void emb_fwd_k(const int64_t* ids, long long n, const void* table, long long V, long long dim, void* out) {
  PLF_GRID_STRIDE(t, n * dim) {
    long long id = ids[t / dim];
    st<TO>(out, t, id >= 0 && id < V ? ld<TT>(table, id * dim + t % dim) : 0.0f);
  }
}
template <DType T>
__global__ void emb_bwd_k(const int64_t* ids, long long n, const void* dout, long long dim, float* dtable) {
  PLF_GRID_STRIDE(t, n * dim) atomicAdd(dtable + ids[t / dim] * dim + t % dim, ld<T>(dout, t));
}
template <DType T>
__global__ void gather_fwd_k(const void* x, const int64_t* idx, long long B, long long T_, long long H, void* y) {
  PLF_GRID_STRIDE(t, B * H) {
    long long b = t / H;
    st<T>(y, t, ld<T>(x, (b * T_ + idx[b]) * H + t % H));
  }
}
template <DType T>
__global__ void gather_bwd_k(const void* dy, const int64_t* idx, long long B, long long T_, long long H, void* dx) {
  PLF_GRID_STRIDE(t, B * T_ * H) {
    long long b = t / (T_ * H), row = (t / H) % T_;
    st<T>(dx, t, row == idx[b] ? ld<T>(dy, b * H + t % H) : 0.0f);
  }
}

}  // namespace cuda
}  // namespace plf
