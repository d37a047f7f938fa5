// f32 <-> f16 <-> bf16 conversion on CUDA (round to nearest even, like the CPU reference).
#include "plf/ops.h"
#include "check.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace plf {
namespace cuda {

__device__ inline float load(int d, const void* p, long long i) {
  if (d == int(DType::F32)) return static_cast<const float*>(p)[i];
  if (d == int(DType::BF16)) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  return __half2float(static_cast<const __half*>(p)[i]);
}

__global__ void convert_kernel(int from, const void* src, int to, void* dst, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v = load(from, src, i);
  if (to == int(DType::F32)) static_cast<float*>(dst)[i] = v;
  else if (to == int(DType::BF16)) static_cast<__nv_bfloat16*>(dst)[i] = __float2bfloat16_rn(v);
  else static_cast<__half*>(dst)[i] = __float2half_rn(v);
}

void convert(DType from, const void* src, DType to, void* dst, int64_t n) {
  if (n == 0) return;
  convert_kernel<<<blocks_for(n, 256), 256>>>(int(from), src, int(to), dst, n);
  check_launch("convert");
  check(cudaDeviceSynchronize(), "convert");
}

}  // namespace cuda
}  // namespace plf
