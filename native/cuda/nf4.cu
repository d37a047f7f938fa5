// NF4 dequantize on CUDA: one thread per packed byte (two outputs), absmax resolved per element
// (double quant: nested code lookup + offset), results equal to the CPU reference.
#include "plf/nf4.h"
#include "check.cuh"

namespace plf {
namespace cuda {

__constant__ float kNF4[16];

template <typename T> __device__ inline T from_f32(float v);
template <> __device__ inline float from_f32<float>(float v) { return v; }
template <> __device__ inline uint16_t from_f32<uint16_t>(float v) { return f32_to_bf16(v); }
struct Half { uint16_t bits; };
template <> __device__ inline Half from_f32<Half>(float v) { return Half{f32_to_f16(v)}; }

template <typename T>
__global__ void nf4_dequantize_kernel(NF4View w, T* out) {
  long long byte = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  long long i = byte * 2;
  if (i >= w.numel) return;
  long long b = i / w.blocksize;
  // two roundings (no FMA), as bitsandbytes dequantizes absmax and then adds the offset
  float am = w.absmax ? w.absmax[b]
                      : __fadd_rn(__fmul_rn(w.nested_code[w.absmax_q[b]], w.nested_absmax[b / w.nested_blocksize]), w.offset);
  unsigned char q = w.packed[byte];
  out[i] = from_f32<T>(__fmul_rn(kNF4[q >> 4], am));
  if (i + 1 < w.numel) out[i + 1] = from_f32<T>(__fmul_rn(kNF4[q & 15], am));
}

void nf4_dequantize(const NF4View& w, DType out_dtype, void* out) {
  static bool code_ready = false;
  if (!code_ready) {
    check(cudaMemcpyToSymbol(kNF4, NF4_CODE, sizeof(float) * 16), "nf4_dequantize: upload NF4 code");
    code_ready = true;
  }
  long long bytes = (w.numel + 1) / 2;
  unsigned grid = blocks_for(bytes, 256);
  if (out_dtype == DType::F32) nf4_dequantize_kernel<float><<<grid, 256>>>(w, static_cast<float*>(out));
  else if (out_dtype == DType::BF16) nf4_dequantize_kernel<uint16_t><<<grid, 256>>>(w, static_cast<uint16_t*>(out));
  else nf4_dequantize_kernel<Half><<<grid, 256>>>(w, static_cast<Half*>(out));
  check_launch("nf4_dequantize");
  check(cudaDeviceSynchronize(), "nf4_dequantize");
}

}  // namespace cuda
}  // namespace plf
