// AdamW's kernels, device code only: included by optim.cu, and by test/cuda-emu to check them
// on the CPU against native/cpu/optim.cpp. The includer provides warp_sum.
#pragma once
#include "plf/optim.h"
#include <cmath>

namespace plf {
namespace cuda {

constexpr long long kChunk = 65536;
constexpr int kT = 512;

struct Chunk {
  int tensor;
  long long start;
};
struct Coeffs {
  float gmul, decay, w1, b2, c2, neg_step, bc2_sqrt, eps;
  bool scale_grads;
};

// the step's scalars, computed in double and rounded once, as native/cpu/optim.cpp does; gmul scales
// the gradients (unscaling × clipping)
inline Coeffs adamw_coeffs(const AdamWConfig& cfg, double gmul) {
  Coeffs k;
  k.gmul = float(gmul);
  k.scale_grads = k.gmul != 1.0f;
  k.decay = float(1.0 - cfg.lr * cfg.weight_decay);
  k.w1 = float(1.0 - cfg.beta1);
  k.b2 = float(cfg.beta2);
  k.c2 = float(1.0 - cfg.beta2);
  double bc1 = 1.0 - std::pow(cfg.beta1, double(cfg.step)), bc2 = 1.0 - std::pow(cfg.beta2, double(cfg.step));
  k.neg_step = float(-(cfg.lr / bc1));
  k.bc2_sqrt = float(std::sqrt(bc2));
  k.eps = float(cfg.eps);
  return k;
}

// the block's sum of s into part[blockIdx.x] (thread 0 writes)
__device__ inline void block_sum_to(double s, double* part) {
  __shared__ double sh[kT / 32];
  s = warp_sum(s);
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = 0.0;
    for (int w = 0; w < kT / 32; w++) t += sh[w];
    part[blockIdx.x] = t;
  }
}

__global__ void sumsq_k(const AdamWParam* ps, const Chunk* chunks, double* part, int* bad) {
  const Chunk c = chunks[blockIdx.x];
  const AdamWParam& P = ps[c.tensor];
  long long end = c.start + kChunk < P.n ? c.start + kChunk : P.n;
  double s = 0.0;
  bool nonfinite = false;
  if ((P.n & 3) == 0 && (reinterpret_cast<uintptr_t>(P.grad) & 15) == 0) {
    for (long long i = c.start + 4LL * threadIdx.x; i < end; i += 4LL * kT) {
      float4 g = *reinterpret_cast<const float4*>(P.grad + i);
      nonfinite |= !isfinite(g.x) || !isfinite(g.y) || !isfinite(g.z) || !isfinite(g.w);
      s += double(g.x) * g.x + double(g.y) * g.y + double(g.z) * g.z + double(g.w) * g.w;
    }
  } else {
    for (long long i = c.start + threadIdx.x; i < end; i += kT) {
      float g = P.grad[i];
      nonfinite |= !isfinite(g);
      s += double(g) * double(g);
    }
  }
  if (nonfinite) *bad = 1;
  block_sum_to(s, part);
}

__device__ inline void adamw_one(const Coeffs& k, float g, float& w, float& m, float& v) {
  if (k.scale_grads) g = __fmul_rn(g, k.gmul);
  float p = __fmul_rn(w, k.decay);
  m = k.w1 < 0.5f ? __fadd_rn(m, __fmul_rn(k.w1, __fsub_rn(g, m)))
                  : __fsub_rn(g, __fmul_rn(__fsub_rn(g, m), __fsub_rn(1.0f, k.w1)));
  v = __fadd_rn(__fmul_rn(v, k.b2), __fmul_rn(__fmul_rn(k.c2, g), g));
  float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), k.bc2_sqrt), k.eps);
  w = __fadd_rn(p, __fdiv_rn(__fmul_rn(k.neg_step, m), denom));
}

// 4 elements per thread and step (16-byte loads) where the tensor allows it, else one. With
// `part`, the squared gradients are summed in the same pass (no first pass over the gradients).
__global__ void adamw_k(const AdamWParam* ps, const Chunk* chunks, Coeffs k, double* part) {
  const Chunk c = chunks[blockIdx.x];
  const AdamWParam& P = ps[c.tensor];
  float* w = P.master ? P.master : static_cast<float*>(P.param);
  long long end = c.start + kChunk < P.n ? c.start + kChunk : P.n;
  const bool vec = (P.n & 3) == 0 && ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(P.grad) |
                                       reinterpret_cast<uintptr_t>(P.m) | reinterpret_cast<uintptr_t>(P.v)) &
                                      15) == 0;
  double s = 0.0;
  if (vec) {
    for (long long i = c.start + 4LL * threadIdx.x; i < end; i += 4LL * kT) {
      float4 g = *reinterpret_cast<const float4*>(P.grad + i), ww = *reinterpret_cast<float4*>(w + i);
      if (part) s += double(g.x) * g.x + double(g.y) * g.y + double(g.z) * g.z + double(g.w) * g.w;
      float4 m = *reinterpret_cast<float4*>(P.m + i), v = *reinterpret_cast<float4*>(P.v + i);
      adamw_one(k, g.x, ww.x, m.x, v.x);
      adamw_one(k, g.y, ww.y, m.y, v.y);
      adamw_one(k, g.z, ww.z, m.z, v.z);
      adamw_one(k, g.w, ww.w, m.w, v.w);
      *reinterpret_cast<float4*>(w + i) = ww;
      *reinterpret_cast<float4*>(P.m + i) = m;
      *reinterpret_cast<float4*>(P.v + i) = v;
      if (P.master) {
        uint16_t* out = static_cast<uint16_t*>(P.param) + i;
        const float q[4] = {ww.x, ww.y, ww.z, ww.w};
        for (int j = 0; j < 4; j++) out[j] = P.dtype == DType::BF16 ? f32_to_bf16(q[j]) : f32_to_f16(q[j]);
      }
    }
  } else {
    for (long long i = c.start + threadIdx.x; i < end; i += kT) {
      float ww = w[i], m = P.m[i], v = P.v[i], g = P.grad[i];
      if (part) s += double(g) * double(g);
      adamw_one(k, g, ww, m, v);
      P.m[i] = m;
      P.v[i] = v;
      w[i] = ww;
      if (P.master) {
        uint16_t* out = static_cast<uint16_t*>(P.param);
        out[i] = P.dtype == DType::BF16 ? f32_to_bf16(ww) : f32_to_f16(ww);
      }
    }
  }
  if (part) block_sum_to(s, part);
}

}  // namespace cuda
}  // namespace plf
