// The GEMM of the linear layers on CUDA (gemm.cu): C[M,N] = alpha·A·B + beta·C with A a matrix of any
// strides and B a matrix or a weight of any storage dtype (NF4 dequantized as its tile is staged);
// A, B's matrix and C are f32, bf16 or f16 (read and written in place, accumulation in f32).
// linear.cu composes the linear and LoRA ops from it.
#pragma once
#include "plf/linear.h"
#include "weight.cuh"
#include "plf/act.h"

namespace plf {
namespace cuda {

// A(m, k) = p[m·rs + k·cs] of dtype t
struct StridedA {
  const void* p;
  long long rs, cs;
  DType t = DType::F32;
  StridedA(const void* q, long long r, long long c, DType d = DType::F32) : p(q), rs(r), cs(c), t(d) {}
  StridedA(CAct a, long long r, long long c) : p(a.p), rs(r), cs(c), t(a.t) {}
  __device__ inline float at(long long m, long long k) const { return ld(p, t, m * rs + k * cs); }
};
// C [M, N] (row stride ldc) of dtype t
struct OutC {
  void* p;
  long long ld;
  DType t = DType::F32;
  OutC(float* q, long long l) : p(q), ld(l) {}
  OutC(Act a, long long l) : p(a.p), ld(l), t(a.t) {}
};
// B(k, n): a matrix (p of dtype pt, strides) or a weight: trans → W[n][k], else W[k][n]
struct OperandB {
  const void* p;
  long long rs, cs;
  DType pt;
  DeviceWeight w;
  bool weight, trans;
  __device__ inline float at(long long k, long long n, const float* code) const {
    if (!weight) return ld(p, pt, k * rs + n * cs);
    return trans ? w.at(n, k, code) : w.at(k, n, code);
  }
};

// the f32 SIMT kernel, or tensor cores (and cuBLASLt when present) under matmul precision bf16/f16
void gemm(long long M, long long N, long long K, float alpha, StridedA A, OperandB B, float beta, OutC C);
// uploads gemm.cu's copy of the NF4 code (once); call before a gemm on an NF4 weight
void upload_nf4_code();
inline OperandB mat(const void* p, long long rs, long long cs, DType t = DType::F32) {
  OperandB b{};
  b.p = p;
  b.rs = rs;
  b.cs = cs;
  b.pt = t;
  return b;
}
inline OperandB mat(CAct a, long long rs, long long cs) { return mat(a.p, rs, cs, a.t); }
inline OperandB weight(const WeightView& w, bool trans) {
  OperandB b{};
  b.w = DeviceWeight{w};
  b.weight = true;
  b.trans = trans;
  return b;
}

}  // namespace cuda
}  // namespace plf
