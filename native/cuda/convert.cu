// f32 <-> f16 <-> bf16 conversion on CUDA with the CPU's bit-exact rounding (plf/common.h).
#include "plf/ops.h"
#include "check.cuh"

namespace plf {
namespace cuda {

__device__ inline float load(int d, const void* p, long long i) {
  if (d == int(DType::F32)) return static_cast<const float*>(p)[i];
  if (d == int(DType::BF16)) return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
}

__global__ void convert_kernel(int from, const void* src, int to, void* dst, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v = load(from, src, i);
  if (to == int(DType::F32))
    static_cast<float*>(dst)[i] = v;
  else if (to == int(DType::BF16))
    static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v);
  else
    static_cast<uint16_t*>(dst)[i] = f32_to_f16(v);
}

void convert(DType from, const void* src, DType to, void* dst, int64_t n) {
  if (n == 0) return;
  convert_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(int(from), src, int(to), dst, n);
  check_launch("convert");
}

}  // namespace cuda
}  // namespace plf
