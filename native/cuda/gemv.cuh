// y = x·Wᵀ (+ bias) for a few rows of x (M <= 8: decoding, small batches) with an f32, bf16 or f16
// weight: one warp per row of W, which is read once with 16-byte loads; the M dot products share
// it. x and y are f32, bf16 or f16 (TX, in place). Device code only: included by linear.cu, and by
// test/cuda-emu to check it on the CPU.
#pragma once
#include "plf/act.h"

namespace plf {
namespace cuda {

constexpr int kGemvRows = 8;  // the most rows of x one call takes

template <DType DT>
__device__ inline float w_at(const void* w, long long i);
template <>
__device__ inline float w_at<DType::F32>(const void* w, long long i) {
  return static_cast<const float*>(w)[i];
}
template <>
__device__ inline float w_at<DType::BF16>(const void* w, long long i) {
  return bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
}
template <>
__device__ inline float w_at<DType::F16>(const void* w, long long i) {
  return f16_to_f32(static_cast<const uint16_t*>(w)[i]);
}

// V = elements per 16-byte load of W: 4 f32 or 8 of a 16-bit type
template <DType DT>
struct Vec {
  static constexpr int V = DT == DType::F32 ? 4 : 8;
};

template <DType DT>
__device__ inline void load_w(const void* w, long long i, float* out) {
  const uint4 u = *reinterpret_cast<const uint4*>(static_cast<const char*>(w) + i * (DT == DType::F32 ? 4 : 2));
  const uint32_t words[4] = {u.x, u.y, u.z, u.w};
  if (DT == DType::F32) {
    for (int v = 0; v < 4; v++) out[v] = bits_f32(words[v]);
  } else {
    for (int v = 0; v < 4; v++) {
      uint16_t lo = uint16_t(words[v] & 0xffffu), hi = uint16_t(words[v] >> 16);
      out[2 * v] = DT == DType::BF16 ? bf16_to_f32(lo) : f16_to_f32(lo);
      out[2 * v + 1] = DT == DType::BF16 ? bf16_to_f32(hi) : f16_to_f32(hi);
    }
  }
}

// vec: K is a multiple of V and W, x are 16-byte aligned (else one element per lane and step)
template <DType DT, DType TX>
__global__ void dense_gemv_k(const void* x, long long M, long long K, const void* W, long long N, const float* bias,
                             void* y, bool vec, bool into = false) {
  constexpr int V = Vec<DT>::V;
  const long long n = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (n >= N) return;  // whole warps leave together
  float acc[kGemvRows];
#pragma unroll
  for (int m = 0; m < kGemvRows; m++) acc[m] = 0.0f;
  if (vec) {
    for (long long k = (long long)lane * V; k < K; k += 32LL * V) {
      float wv[V];
      load_w<DT>(W, n * K + k, wv);
#pragma unroll
      for (int m = 0; m < kGemvRows; m++) {
        if (m >= M) break;
        if constexpr (TX == DType::F32) {
          const float4* xm = reinterpret_cast<const float4*>(static_cast<const float*>(x) + m * K + k);
#pragma unroll
          for (int q = 0; q < V / 4; q++) {
            float4 xv = xm[q];
            acc[m] += wv[4 * q] * xv.x + wv[4 * q + 1] * xv.y + wv[4 * q + 2] * xv.z + wv[4 * q + 3] * xv.w;
          }
        } else {  // x is read from L1 (every warp reads the same rows): plain loads, same sum order
#pragma unroll
          for (int q = 0; q < V / 4; q++) {
            long long i = m * K + k + 4 * q;
            acc[m] += wv[4 * q] * ld<TX>(x, i) + wv[4 * q + 1] * ld<TX>(x, i + 1) + wv[4 * q + 2] * ld<TX>(x, i + 2) +
                      wv[4 * q + 3] * ld<TX>(x, i + 3);
          }
        }
      }
    }
  } else {
    for (long long k = lane; k < K; k += 32) {
      float wv = w_at<DT>(W, n * K + k);
#pragma unroll
      for (int m = 0; m < kGemvRows; m++)
        if (m < M) acc[m] += wv * ld<TX>(x, m * K + k);
    }
  }
#pragma unroll
  for (int m = 0; m < kGemvRows; m++) {
    float s = warp_sum(acc[m]);
    if (lane == 0 && m < M) st<TX>(y, m * N + n, s + (bias ? bias[n] : 0.0f) + (into ? ld<TX>(y, m * N + n) : 0.0f));
  }
}

}  // namespace cuda
}  // namespace plf
