// Column slices of row-major matrices on CUDA (q/k/v out of a fused projection).
#include "plf/ops.h"
#include "check.cuh"

namespace plf {
namespace cuda {

__global__ void slice_fwd_k(const float* x, long long R, long long C, long long start, long long L, float* y) {
  PLF_GRID_STRIDE(t, R * L) y[t] = x[(t / L) * C + start + t % L];
}
__global__ void slice_bwd_k(const float* dy, long long R, long long C, long long start, long long L, float* dx) {
  PLF_GRID_STRIDE(t, R * L) dx[(t / L) * C + start + t % L] += dy[t];
}

void slice_cols_forward(const float* x, int64_t R, int64_t C, int64_t start, int64_t L, float* y) {
  if (R * L) slice_fwd_k<<<blocks_for(R * L, 256), 256>>>(x, R, C, start, L, y);
  check_launch("slice_cols_forward");
}
void slice_cols_backward(const float* dy, int64_t R, int64_t C, int64_t start, int64_t L, float* dx) {
  if (R * L) slice_bwd_k<<<blocks_for(R * L, 256), 256>>>(dy, R, C, start, L, dx);
  check_launch("slice_cols_backward");
}

}  // namespace cuda
}  // namespace plf
