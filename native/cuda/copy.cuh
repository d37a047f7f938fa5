// Column-slice and KV-cache append kernels (copy.cu launches them), templated on the activation dtype T: device code
// only, so the CPU emulator (test/cuda-emu) compiles it too.
#pragma once
#include "plf/act.h"

namespace plf {
namespace cuda {

template <DType T>
__global__ void slice_fwd_k(const void* x, long long R, long long C, long long start, long long L, void* y) {
  PLF_GRID_STRIDE(t, R * L) st<T>(y, t, ld<T>(x, (t / L) * C + start + t % L));
}
template <DType T>
__global__ void slice_bwd_k(const void* dy, long long R, long long C, long long start, long long L, void* dx) {
  PLF_GRID_STRIDE(t, R * L) {
    long long i = (t / L) * C + start + t % L;
    st<T>(dx, i, ld<T>(dx, i) + ld<T>(dy, t));
  }
}

// at is read on the device, so a recorded decode step appends where the replay's at says
template <DType T>
__global__ void cache_write_k(const void* k, const void* v, long long B, long long T_, long long cap, long long row,
                              const int64_t* at, void* kc, void* vc) {
  const long long a = at[0], n = B * T_ * row;
  PLF_GRID_STRIDE(j, 2 * n) {
    const bool second = j >= n;
    const long long i = second ? j - n : j;
    long long e = i % row, t = (i / row) % T_, b = i / (row * T_), p = a + t;
    if (p >= 0 && p < cap) st<T>(second ? vc : kc, (b * cap + p) * row + e, ld<T>(second ? v : k, i));
  }
}

}  // namespace cuda
}  // namespace plf
