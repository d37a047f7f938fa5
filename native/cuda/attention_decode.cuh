// Attention at decoding (one query row per batch row, Tq == 1, no score bias), device code only:
// included by attention.cu, and by test/cuda-emu to check it on the CPU. The includer provides
// warp_sum. FlashDecoding's split over keys: the general kernels give a query head's whole cache
// to one block (B·Hq blocks at one row: 32 for Mistral-7B at batch 1, each streaming the cache
// alone) and read a kv head's keys once per query head sharing it; and the f32 kernels need
// 16-bit caches staged through f32 on every step.
//
// Grid (splits, Hkv, B): a block takes keys [s0, s0 + chunk) of one kv head for all G = Hq / Hkv
// query heads that share it, reading each key and value row once, in the activations' dtype T
// (f32/bf16/f16 in place, math in f32). Its warps take every kWarps-th key, kU at a time (lanes
// split the head dimension), with an online softmax per head, then merge in shared memory. With one split the
// block writes out and lse; with several it writes (max, sum, unnormalized out) partials that
// decode_combine_k merges — the same merge as the block's own.
#pragma once
#include <cstdint>
#include <math.h>
#include <type_traits>
#include "plf/act.h"
#include "attention.cuh"

namespace plf {
namespace cuda {
namespace decode {

constexpr int kWarps = 4, kT = 32 * kWarps, kPer = 4;  // head size <= 32·kPer = 128
constexpr int kU = 4;                                  // keys per warp in flight
constexpr int kMaxG = 8;                               // query heads per kv head

// m, l: the merged max and sum of two (max, sum) pairs' exp-weighted parts (m = -inf: empty)
__device__ inline float merge_weight(float m_part, float m_all) {
  return m_part == -INFINITY ? 0.0f : expf(m_part - m_all);
}

// f(integral_constant<int, GM>) for the group-size bucket GM in {1, 2, 4, 8} that holds G (host code:
// the launch's template argument)
template <typename F>
inline void by_group(long long G, F&& f) {
  if (G <= 1)
    f(std::integral_constant<int, 1>{});
  else if (G <= 2)
    f(std::integral_constant<int, 2>{});
  else if (G <= 4)
    f(std::integral_constant<int, 4>{});
  else
    f(std::integral_constant<int, 8>{});
}

// GM: the group size bucket (1, 2, 4 or 8 >= G)
template <int GM, DType T>
__global__ void __launch_bounds__(kT)
    decode_k(const void* __restrict__ q, const void* __restrict__ k, const void* __restrict__ v, const int64_t* mask,
             AttnDims a, long long chunk, void* out, float* lse, float* part) {
  __shared__ float sm_m[kWarps][GM], sm_l[kWarps][GM], sm_o[kWarps][GM][32 * kPer];
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const long long split = blockIdx.x, hk = blockIdx.y, b = blockIdx.z, splits = gridDim.x;
  const int G = int(a.Hq / a.Hkv);
  const long long t = a.Tk - 1;  // the query's position: the last of the keys
  const long long s0 = split * chunk, s1 = s0 + chunk < a.Tk ? s0 + chunk : a.Tk;
  float qr[GM][kPer], o[GM][kPer], m[GM], l[GM];
#pragma unroll
  for (int g = 0; g < GM; g++) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
#pragma unroll
    for (int j = 0; j < kPer; j++) {
      long long d = lane + 32LL * j;
      qr[g][j] = g < G && d < a.D ? ld<T>(q, (b * a.Hq + hk * G + g) * a.D + d) : 0.0f;
      o[g][j] = 0.0f;
    }
  }
  // kU keys per warp and step, their rows loaded before any arithmetic (loads in flight together)
  for (long long s = s0 + w; s < s1; s += kWarps * kU) {
    float kk[kU][kPer], vv[kU][kPer];
    bool ok[kU];
#pragma unroll
    for (int u = 0; u < kU; u++) {
      const long long su = s + u * kWarps;
      ok[u] = su < s1 && allowed(mask, b, a.Tcap, t, su, a.window, a.causal);  // the same for the whole warp
      const long long row = ((b * a.Tcap + (ok[u] ? su : 0)) * a.Hkv + hk) * a.D;
#pragma unroll
      for (int j = 0; j < kPer; j++) {
        long long d = lane + 32LL * j;
        kk[u][j] = ok[u] && d < a.D ? ld<T>(k, row + d) : 0.0f;
        vv[u][j] = ok[u] && d < a.D ? ld<T>(v, row + d) : 0.0f;
      }
    }
#pragma unroll
    for (int u = 0; u < kU; u++) {
      if (!ok[u]) continue;
#pragma unroll
      for (int g = 0; g < GM; g++) {
        if (g >= G) break;
        float dot = 0.0f;
#pragma unroll
        for (int j = 0; j < kPer; j++) dot += qr[g][j] * kk[u][j];
        const float sc = warp_sum(dot) * a.scale;
        const float mn = fmaxf(m[g], sc), corr = merge_weight(m[g], mn), p = expf(sc - mn);
        l[g] = l[g] * corr + p;
#pragma unroll
        for (int j = 0; j < kPer; j++) o[g][j] = o[g][j] * corr + p * vv[u][j];
        m[g] = mn;
      }
    }
  }
  // the warps' parts merged: thread (g, d) pairs of the block, as decode_combine_k merges splits
#pragma unroll
  for (int g = 0; g < GM; g++) {
    if (lane == 0) {
      sm_m[w][g] = m[g];
      sm_l[w][g] = l[g];
    }
#pragma unroll
    for (int j = 0; j < kPer; j++) sm_o[w][g][lane + 32 * j] = o[g][j];
  }
  __syncthreads();
  for (int e = threadIdx.x; e < G * 32 * kPer; e += kT) {
    const int g = e / (32 * kPer), d = e % (32 * kPer);
    if (d >= a.D) continue;
    float M = -INFINITY;
    for (int ww = 0; ww < kWarps; ww++) M = fmaxf(M, sm_m[ww][g]);
    float L = 0.0f, O = 0.0f;
    for (int ww = 0; ww < kWarps; ww++) {
      const float f = merge_weight(sm_m[ww][g], M);
      L += sm_l[ww][g] * f;
      O += sm_o[ww][g][d] * f;
    }
    const long long h = hk * G + g, bh = b * a.Hq + h;
    if (splits == 1) {  // no visible key (a left-padding position): zeros and lse -inf, as the CPU
      st<T>(out, bh * a.D + d, M == -INFINITY ? 0.0f : O / L);
      if (d == 0) lse[bh] = M == -INFINITY ? -INFINITY : M + logf(L);
    } else {  // part [B·Hq][splits][D + 2]: O per column, then M and L
      float* pp = part + (bh * splits + split) * (a.D + 2);
      pp[d] = O;
      if (d == 0) {
        pp[a.D] = M;
        pp[a.D + 1] = L;
      }
    }
  }
}

// out and lse from the splits' partials: grid (Hq, B), one thread per column d
template <DType T>
__global__ void decode_combine_k(const float* __restrict__ part, long long splits, AttnDims a, void* out, float* lse) {
  const long long bh = blockIdx.y * a.Hq + blockIdx.x;
  const float* pp = part + bh * splits * (a.D + 2);
  float M = -INFINITY;
  for (long long i = 0; i < splits; i++) M = fmaxf(M, pp[i * (a.D + 2) + a.D]);
  for (long long d = threadIdx.x; d < a.D; d += blockDim.x) {
    float L = 0.0f, O = 0.0f;
    for (long long i = 0; i < splits; i++) {
      const float* pi = pp + i * (a.D + 2);
      const float f = merge_weight(pi[a.D], M);
      L += pi[a.D + 1] * f;
      O += pi[d] * f;
    }
    st<T>(out, bh * a.D + d, M == -INFINITY ? 0.0f : O / L);
    if (d == 0) lse[bh] = M == -INFINITY ? -INFINITY : M + logf(L);
  }
}

}  // namespace decode
}  // namespace cuda
}  // namespace plf
