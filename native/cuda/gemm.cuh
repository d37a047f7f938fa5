// The GEMM of the linear layers on CUDA (gemm.cu): C[M,N] = alpha·A·B + beta·C with A an f32 matrix of any
// strides and B an f32 matrix or a weight of any storage dtype (NF4 dequantized as its tile is staged).
// linear.cu composes the linear and LoRA ops from it.
#pragma once
#include "plf/linear.h"
#include "weight.cuh"

namespace plf {
namespace cuda {

struct StridedA {
  const float* p;
  long long rs, cs;
};
// B(k, n): an f32 matrix (p, strides) or a weight: trans → W[n][k], else W[k][n]
struct OperandB {
  const float* p;
  long long rs, cs;
  DeviceWeight w;
  bool weight, trans;
  __device__ inline float at(long long k, long long n, const float* code) const {
    if (!weight) return p[k * rs + n * cs];
    return trans ? w.at(n, k, code) : w.at(k, n, code);
  }
};

// the f32 SIMT kernel, or tensor cores (and cuBLASLt when present) under matmul precision bf16/f16
void gemm(long long M, long long N, long long K, float alpha, StridedA A, OperandB B, float beta, float* C,
          long long ldc);
// uploads gemm.cu's copy of the NF4 code (once); call before a gemm on an NF4 weight
void upload_nf4_code();
inline OperandB mat(const float* p, long long rs, long long cs) {
  OperandB b{};
  b.p = p;
  b.rs = rs;
  b.cs = cs;
  return b;
}
inline OperandB weight(const WeightView& w, bool trans) {
  OperandB b{};
  b.w = DeviceWeight{w};
  b.weight = true;
  b.trans = trans;
  return b;
}

}  // namespace cuda
}  // namespace plf
