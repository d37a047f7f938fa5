// NF4 device code (nf4.cu launches it): the code table, dequantize (vector and scalar kernels) and
// quantize. Device code only, so the CPU emulator (test/cuda-emu) compiles it too; the includer
// provides warp_max, warp_sum, PLF_GRID_STRIDE and PLF_SHARED_FLOATS. Also the decoding GEMV.
#pragma once
#include "plf/nf4.h"
#include "plf/linear.h"
#include "weight.cuh"
#include "plf/act.h"
#include <type_traits>

namespace plf {
namespace cuda {

static __device__ float kNF4[16];

__device__ inline void load_code(float* sh) {
  if (threadIdx.x < 16) sh[threadIdx.x] = kNF4[threadIdx.x];
  __syncthreads();
}

// Out: 0 f32, 1 bf16, 2 f16
template <int Out>
__device__ inline void store(void* out, long long i, float v) {
  if constexpr (Out == 0)
    static_cast<float*>(out)[i] = v;
  else if constexpr (Out == 1)
    static_cast<uint16_t*>(out)[i] = f32_to_bf16(v);
  else
    static_cast<uint16_t*>(out)[i] = f32_to_f16(v);
}
template <int Out>
__device__ inline uint16_t bits16(float v) {
  return Out == 1 ? f32_to_bf16(v) : f32_to_f16(v);
}

template <int Out>
__global__ void dequant_scalar_k(NF4View w, long long from, void* out) {
  __shared__ float code[16];
  load_code(code);
  PLF_GRID_STRIDE(j, w.numel - from) {
    long long i = from + j;
    unsigned char q = w.packed[i >> 1];
    store<Out>(out, i, __fmul_rn(code[(i & 1) ? (q & 15) : (q >> 4)], nf4_absmax(w, i / w.blocksize)));
  }
}

// 8 values per thread and step: 4 packed bytes in, 16 (bf16/f16) or 32 (f32) bytes out, so a
// warp reads 128 and writes 512 (or 1,024) contiguous bytes per step.
template <int Out>
__device__ inline void dequant_store(void* out, long long g, uint32_t raw, float am, const float* code) {
  float v[8];
#pragma unroll
  for (int j = 0; j < 4; j++) {
    unsigned b = (raw >> (8 * j)) & 255u;
    v[2 * j] = __fmul_rn(code[b >> 4], am);
    v[2 * j + 1] = __fmul_rn(code[b & 15], am);
  }
  if constexpr (Out == 0) {
    float4* o = reinterpret_cast<float4*>(static_cast<float*>(out) + g * 8);
    o[0] = make_float4(v[0], v[1], v[2], v[3]);
    o[1] = make_float4(v[4], v[5], v[6], v[7]);
  } else {
    uint32_t u[4];
#pragma unroll
    for (int e = 0; e < 4; e++) u[e] = uint32_t(bits16<Out>(v[2 * e])) | (uint32_t(bits16<Out>(v[2 * e + 1])) << 16);
    reinterpret_cast<uint4*>(static_cast<uint16_t*>(out) + g * 8)[0] = make_uint4(u[0], u[1], u[2], u[3]);
  }
}

// 8 values per group: 4 packed bytes in, 16 (bf16/f16) or 32 (f32) bytes out, so a warp reads 128
// and writes 512 (or 1,024) contiguous bytes per step. A block takes a contiguous chunk of kU × 256
// groups and first resolves the chunk's absmax values into shared memory, one thread per absmax
// block, so the double-quantization lookups (code byte → nested code → nested absmax) run side by
// side instead of once per group.
constexpr int kU = 4, kDT = 256;
template <int Out>
__global__ void dequant_vec_k(NF4View w, long long groups, void* out) {
  __shared__ float code[16];
  PLF_SHARED_FLOATS(am);  // this chunk's absmax blocks
  load_code(code);
  const long long per = (long long)kU * kDT;
  const long long gpb = w.blocksize / 8;  // groups per absmax block
  for (long long base = (long long)blockIdx.x * per; base < groups; base += (long long)gridDim.x * per) {
    long long b0 = base / gpb, b1 = (base + per - 1 < groups ? base + per - 1 : groups - 1) / gpb;
    // the packed loads go out first, so they are in flight while the absmax values are resolved
    uint32_t raw[kU];
#pragma unroll
    for (int u = 0; u < kU; u++) {
      long long g = base + u * kDT + threadIdx.x;
      raw[u] = g < groups ? __ldg(reinterpret_cast<const uint32_t*>(w.packed) + g) : 0u;
    }
    __syncthreads();
    for (long long b = b0 + threadIdx.x; b <= b1; b += kDT) am[b - b0] = nf4_absmax(w, b);
    __syncthreads();
#pragma unroll
    for (int u = 0; u < kU; u++) {
      long long g = base + u * kDT + threadIdx.x;
      if (g < groups) dequant_store<Out>(out, g, raw[u], am[g / gpb - b0], code);
    }
  }
}

// The CPU's rule: v = clamp(x·(1/absmax), -1, 1) (an all-zero block gives NaN, which clamps to
// -1: code 0), lo = the last code <= v, then the closer of lo and lo+1 (first on ties).
__device__ inline unsigned char nf4_code_of(float x, float inv, const float* code) {
  float v = fminf(1.0f, fmaxf(-1.0f, __fmul_rn(x, inv)));
  int lo = 0;
  for (int j = 1; j < 16; j++) lo += code[j] <= v;
  int hi = lo < 15 ? lo + 1 : 15;
  return (unsigned char)(fabsf(__fsub_rn(v, code[hi])) < fabsf(__fsub_rn(v, code[lo])) ? hi : lo);
}

// one warp per block of values: absmax by warp max, then each lane packs pairs
__global__ void quant_k(const float* x, long long n, long long bs, long long nblocks, uint8_t* packed, float* absmax) {
  __shared__ float code[16];
  load_code(code);
  long long blk = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x & 31;
  if (blk >= nblocks) return;
  long long s = blk * bs, e = s + bs < n ? s + bs : n;
  float m = 0.0f;
  for (long long i = s + lane; i < e; i += 32) m = fmaxf(m, fabsf(x[i]));
  m = warp_max(m);
  if (lane == 0) absmax[blk] = m;
  float inv = __fdiv_rn(1.0f, m);
  for (long long i = s + 2 * lane; i < e; i += 64) {
    unsigned char hi = nf4_code_of(x[i], inv, code);
    unsigned char lo = i + 1 < e ? nf4_code_of(x[i + 1], inv, code) : 0;
    packed[i >> 1] = (unsigned char)((hi << 4) | lo);
  }
}

// The decoding GEMV, y[r] = Σ_k W[r,k]·x[k] (+ bias), x and y f32/bf16/f16 (T, in place). Each warp
// takes R rows at once, so every x value read (from L1) serves R weight rows; a lane handles 32
// columns (16 packed bytes per row) per step. The first S steps × R rows of 16-byte weight loads are
// issued, then the rows' absmax values are resolved into the warp's shared memory (lanes side by
// side) while those loads are in flight. Conditions: nf4_gemv_ok in nf4.cu.
// four consecutive x values (16-byte aligned for f32, 8-byte for 16-bit types)
template <DType T>
__device__ inline float4 load_x4(const void* x, long long i) {
  if constexpr (T == DType::F32) {
    return __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(x) + i));
  } else {
    uint2 u = __ldg(reinterpret_cast<const uint2*>(static_cast<const uint16_t*>(x) + i));
    auto f = [](uint32_t h) { return T == DType::BF16 ? bf16_to_f32(uint16_t(h)) : f16_to_f32(uint16_t(h)); };
    return make_float4(f(u.x & 0xffffu), f(u.x >> 16), f(u.y & 0xffffu), f(u.y >> 16));
  }
}

// sums[m][i] = Σ_k W[r0+i, k]·x[m][k] for rows r0 .. r0+R-1 of W and the M <= MB rows of x (every
// lane gets them), x [M, K] of dtype T; am: this warp's R·(K / blocksize) floats of shared memory,
// code: the NF4 table in shared memory. Each row of x sums in the same order whatever MB and S are,
// so a batch of rows gives each row's one-row result bit for bit.
template <int R, int S, DType T, int MB = 1>
__device__ inline void gemv_sums(const void* __restrict__ x, const NF4View& w, long long N, long long K, long long r0,
                                 int lane, float* am, const float* code, float (&sums)[MB][R], long long M = 1) {
  const long long nb = K / w.blocksize;  // absmax blocks per row (K % blocksize == 0 on this path)
  // S steps × R rows of 16-byte loads (32 columns of a row each) from column c0 on
  auto load_raw = [&](uint4(&raw)[S][R], long long c0) {
#pragma unroll
    for (int st = 0; st < S; st++)
#pragma unroll
      for (int i = 0; i < R; i++) {
        long long c = c0 + 32LL * 32 * st, e0 = (r0 + i < N ? r0 + i : r0) * K + c;
        raw[st][i] = c < K ? __ldg(reinterpret_cast<const uint4*>(w.packed + (e0 >> 1))) : make_uint4(0, 0, 0, 0);
      }
  };
  // the first S steps' weight loads go out before the absmax lookups, so both are in flight together
  uint4 raw[S][R];
  load_raw(raw, lane * 32LL);
  __syncwarp();
  // 8 entries per lane at a time, each lookup stage issued for all 8 before the next depends on it
  for (long long j0 = 0; j0 < R * nb; j0 += 32 * 8) {
    long long blk[8];
    float v[8];
#pragma unroll
    for (int u = 0; u < 8; u++) {
      long long j = j0 + u * 32 + lane, row = r0 + j / nb < N ? r0 + j / nb : r0;
      blk[u] = j < R * nb ? row * nb + j % nb : -1;
    }
    if (w.absmax) {
#pragma unroll
      for (int u = 0; u < 8; u++) v[u] = blk[u] >= 0 ? __ldg(w.absmax + blk[u]) : 0.0f;
    } else {
      unsigned char q[8];
      float na[8];
#pragma unroll
      for (int u = 0; u < 8; u++) {
        q[u] = blk[u] >= 0 ? __ldg(w.absmax_q + blk[u]) : 0;
        na[u] = blk[u] >= 0 ? __ldg(w.nested_absmax + blk[u] / w.nested_blocksize) : 0.0f;
      }
#pragma unroll
      for (int u = 0; u < 8; u++) v[u] = __fadd_rn(__fmul_rn(__ldg(w.nested_code + q[u]), na[u]), w.offset);
    }
#pragma unroll
    for (int u = 0; u < 8; u++)
      if (blk[u] >= 0) am[j0 + u * 32 + lane] = v[u];
  }
  __syncwarp();
  float acc[MB][R];
#pragma unroll
  for (int m = 0; m < MB; m++)
#pragma unroll
    for (int i = 0; i < R; i++) acc[m][i] = 0.0f;
  for (long long c0 = lane * 32LL; c0 < K; c0 += 32LL * 32 * S) {
    if (c0 != lane * 32LL) load_raw(raw, c0);
#pragma unroll
    for (int st = 0; st < S; st++) {
      long long c = c0 + 32LL * 32 * st;
      if (c >= K) break;
      float part[MB][R];
#pragma unroll
      for (int m = 0; m < MB; m++)
#pragma unroll
        for (int i = 0; i < R; i++) part[m][i] = 0.0f;
#pragma unroll
      for (int j = 0; j < 8; j++)
#pragma unroll
        for (int m = 0; m < MB; m++) {
          if (m >= M) break;
          float4 xx = load_x4<T>(x, m * K + c + 4 * j);
#pragma unroll
          for (int i = 0; i < R; i++) {
            uint32_t word = (&raw[st][i].x)[j >> 1] >> (16 * (j & 1));
            unsigned b0 = word & 255u, b1 = (word >> 8) & 255u;
            part[m][i] += code[b0 >> 4] * xx.x + code[b0 & 15] * xx.y + code[b1 >> 4] * xx.z + code[b1 & 15] * xx.w;
          }
        }
#pragma unroll
      for (int m = 0; m < MB; m++)
#pragma unroll
        for (int i = 0; i < R; i++) acc[m][i] += part[m][i] * am[i * nb + c / w.blocksize];
    }
  }
#pragma unroll
  for (int m = 0; m < MB; m++)
#pragma unroll
    for (int i = 0; i < R; i++) sums[m][i] = warp_sum(acc[m][i]);
}

// v as stored in dtype T and read back (what a kernel reading the GEMV's output would see)
template <DType T>
__device__ inline float rounded_as(float v) {
  uint32_t word = 0;
  st<T>(&word, 0, v);
  return ld<T>(&word, 0);
}

// LoRA in the epilogue: y, the GEMV's output as stored in T, plus s·Σ_j xa[j]·B[n][j] — in the order
// and roundings of rank_expand_k run after the plain GEMV (its zero rows past r add nothing)
// (row m of x: xa's row m)
template <DType T>
__device__ inline float with_lora(float y, const GemvLora& l, long long n, long long m = 0) {
  if (!l.a) return y;
  float s = 0.0f;
  const float* b = l.b + n * l.r;
  const float* xa = l.xa + m * l.r;
  for (int j = 0; j < int(l.r); j++) s += xa[j] * __ldg(b + j);
  return rounded_as<T>(y) + l.scale * s;
}

// rows r0 .. r0+R-1 of y = x·Wᵀ (+ bias) (+ y with into) (+ LoRA) for the M rows of x (y [M, N]),
// y of dtype T (in place); every lane holds the sums, lane m·R + i finishes (m, r0 + i)
template <int R, int S, DType T, int MB = 1>
__device__ inline void gemv_rows(const void* __restrict__ x, const NF4View& w, long long N, long long K,
                                 const float* bias, void* y, bool into, long long r0, int lane, float* am,
                                 const float* code, const GemvLora& lora, long long M = 1) {
  static_assert(MB * R <= 32, "one lane per output of the warp");
  float v[MB][R];
  gemv_sums<R, S, T, MB>(x, w, N, K, r0, lane, am, code, v, M);
#pragma unroll
  for (int m = 0; m < MB; m++)
#pragma unroll
    for (int i = 0; i < R; i++)
      if (lane == m * R + i && m < M && r0 + i < N) {
        const long long o = m * N + r0 + i;
        st<T>(y, o,
              with_lora<T>((bias ? v[m][i] + bias[r0 + i] : v[m][i]) + (into ? ld<T>(y, o) : 0.0f), lora, r0 + i, m));
      }
}

// SwiGLU's input GEMVs and SwiGLU in one launch (decoding): h[m][r] = silu(g)·u with g = Wg·x[m],
// u = Wu·x[m] (each + its LoRA adapter, if any), rounded to T first — bit for bit the gate GEMV, the
// up GEMV (and their rank-expand passes) and swiglu_fwd_k one after another; M <= MB rows of x
template <int R, int S, DType T, int MB = 1>
__global__ void gemv_swiglu_k(const void* __restrict__ x, NF4View wg, NF4View wu, long long N, long long K,
                              long long max_nb, void* h, GemvLora lg = {}, GemvLora lu = {}, long long M = 1) {
  static_assert(MB * R <= 32, "one lane per output of the warp");
  __shared__ float code[16];
  PLF_SHARED_FLOATS(ams);  // [warps][R][max_nb]
  load_code(code);
  const int lane = threadIdx.x & 31, wid = threadIdx.x / 32;
  float* am = ams + (long long)wid * R * max_nb;
  const long long warps = (long long)gridDim.x * (blockDim.x / 32);
  for (long long r0 = ((long long)blockIdx.x * (blockDim.x / 32) + wid) * R; r0 < N; r0 += warps * R) {
    float g[MB][R], u[MB][R];
    gemv_sums<R, S, T, MB>(x, wg, N, K, r0, lane, am, code, g, M);
    gemv_sums<R, S, T, MB>(x, wu, N, K, r0, lane, am, code, u, M);
#pragma unroll
    for (int m = 0; m < MB; m++)
#pragma unroll
      for (int i = 0; i < R; i++)
        if (lane == m * R + i && m < M && r0 + i < N) {
          float a = rounded_as<T>(with_lora<T>(g[m][i], lg, r0 + i, m));
          st<T>(h, m * N + r0 + i,
                a * (1.0f / (1.0f + expf(-a))) * rounded_as<T>(with_lora<T>(u[m][i], lu, r0 + i, m)));
        }
  }
}

// x [M, K] and y [M, N] of dtype T (in place), M <= MB (decoding a batch of rows: W read once for all)
template <int R, int S, DType T, int MB = 1>
__global__ void gemv_k(const void* __restrict__ x, NF4View w, long long N, long long K, const float* bias, void* y,
                       bool into = false, GemvLora lora = {}, long long M = 1) {
  __shared__ float code[16];
  PLF_SHARED_FLOATS(ams);  // [warps][R][K / blocksize]
  load_code(code);
  const int lane = threadIdx.x & 31, wid = threadIdx.x / 32;
  float* am = ams + (long long)wid * R * (K / w.blocksize);
  const long long warps = (long long)gridDim.x * (blockDim.x / 32);
  for (long long r0 = ((long long)blockIdx.x * (blockDim.x / 32) + wid) * R; r0 < N; r0 += warps * R)
    gemv_rows<R, S, T, MB>(x, w, N, K, bias, y, into, r0, lane, am, code, lora, M);
}

// Up to three GEMVs over one x in one launch (q/k/v, gate/up at decoding): the row groups of all
// segments are dealt out to the warps in order; each segment has its own weight, bias, output
// ([M, N] for the M <= MB rows of x) and LoRA adapter.
struct GemvSeg {
  NF4View w;
  long long N = 0;
  const float* bias = nullptr;
  void* y = nullptr;
  GemvLora lora;
};
struct GemvSegs {
  GemvSeg s[3];
  int n = 0;
};
template <int R, int S, DType T, int MB = 1>
__global__ void gemv_multi_k(const void* __restrict__ x, GemvSegs segs, long long K, long long max_nb, bool into,
                             long long M = 1) {
  __shared__ float code[16];
  PLF_SHARED_FLOATS(ams);  // [warps][R][max_nb]
  load_code(code);
  const int lane = threadIdx.x & 31, wid = threadIdx.x / 32;
  float* am = ams + (long long)wid * R * max_nb;
  long long total = 0;
  for (int i = 0; i < segs.n; i++) total += (segs.s[i].N + R - 1) / R;
  const long long warps = (long long)gridDim.x * (blockDim.x / 32);
  for (long long g = (long long)blockIdx.x * (blockDim.x / 32) + wid; g < total; g += warps) {
    int i = 0;
    long long first = 0;  // the segment's first row group
    while (i + 1 < segs.n && g >= first + (segs.s[i].N + R - 1) / R) first += (segs.s[i++].N + R - 1) / R;
    const GemvSeg& sg = segs.s[i];
    gemv_rows<R, S, T, MB>(x, sg.w, sg.N, K, sg.bias, sg.y, into, (g - first) * R, lane, am, code, sg.lora, M);
  }
}

// The decoding GEMVs' row buckets: f(MB, S) with MB >= M accumulators per warp and S weight steps
// in flight (fewer as MB grows: registers); nf4_gemv, its fused forms and the emulator check share it
// (the largest bucket: kNF4GemvRows)
template <class F>
inline void by_rows(long long M, F&& f) {
  if (M <= 1)
    f(std::integral_constant<int, 1>{}, std::integral_constant<int, 4>{});
  else if (M <= 2)
    f(std::integral_constant<int, 2>{}, std::integral_constant<int, 2>{});
  else if (M <= 4)
    f(std::integral_constant<int, 4>{}, std::integral_constant<int, 2>{});
  else
    f(std::integral_constant<int, 8>{}, std::integral_constant<int, 1>{});
}

}  // namespace cuda
}  // namespace plf
