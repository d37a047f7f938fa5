// The 16-bit operand type E of the tensor-core kernels (__nv_bfloat16 or __half): f32 rounded to one
// value, or to two packed into a word. Shared by the GEMM (gemm_kernels.cuh) and attention
// (attention_tc.cuh); under nvcc the includer brings <cuda_bf16.h> and <cuda_fp16.h>, on the CPU
// emulator test/cuda-emu/wmma.h.
#pragma once
#include <cstdint>

namespace plf {
namespace cuda {

template <typename E>
__device__ inline E to16(float v);
template <>
__device__ inline __nv_bfloat16 to16<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ inline __half to16<__half>(float v) {
  return __float2half_rn(v);
}
template <typename E>
__device__ inline uint32_t to16x2(float a, float b);
template <>
__device__ inline uint32_t to16x2<__nv_bfloat16>(float a, float b) {
  __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&h);
}
template <>
__device__ inline uint32_t to16x2<__half>(float a, float b) {
  __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&h);
}

}  // namespace cuda
}  // namespace plf
