// Column-slice kernels (copy.cu launches them), templated on the activation dtype T: device code
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

}  // namespace cuda
}  // namespace plf
