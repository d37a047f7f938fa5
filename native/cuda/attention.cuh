// Attention's tiled kernels, device code only: included by attention.cu, and by
// test/cuda-emu (which runs them on the CPU, one thread per CUDA thread) to check them where
// no GPU is at hand. The includer provides warp_sum and PLF_SHARED_FLOATS.
#pragma once
#include <cstdint>
#include "plf/act.h"

namespace plf {
namespace cuda {

struct AttnDims {
  long long B, Tq, Tk, Tcap, Hq, Hkv, D;
  float scale;
  long long window;
  bool causal;
};

__device__ inline bool allowed(const int64_t* mask, long long b, long long stride, long long t, long long s,
                               long long window, bool causal) {
  if (causal && s > t) return false;
  if (causal && window > 0 && t - s >= window) return false;
  return !mask || mask[b * stride + s] != 0;
}

// ---- tiled kernels (D <= 128; DP = D padded to 32, 64 or 128; padded columns are zeros) ----------
namespace tiled {
constexpr int kT = 128;  // threads; 8 consecutive lanes share rows, so row reductions stay in a warp

__device__ inline float row_max8(float v) {
#pragma unroll
  for (int o = 1; o < 8; o <<= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ inline float row_sum8(float v) {
#pragma unroll
  for (int o = 1; o < 8; o <<= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float bias_at(const float* bias, const AttnDims& a, long long h, long long i, long long s) {
  return bias ? bias[(h * a.Tq + i) * a.Tk + s] : 0.0f;
}
// rows [r0, r0 + n) of a [.., H, D] tensor at head `hh` into smem [n][LD] (zeros past `rows` and D)
template <int DP>
__device__ inline void load_rows(float* dst, const float* src, long long b, long long r0, int n, long long rows,
                                 long long H, long long hh, long long D) {
  constexpr int LD = DP + 1;
  for (int idx = threadIdx.x; idx < n * DP; idx += kT) {
    int r = idx / DP, d = idx % DP;
    long long row = r0 + r;
    dst[r * LD + d] = (row < rows && d < D) ? src[((b * rows + row) * H + hh) * D + d] : 0.0f;
  }
}
// the same for K/V rows of a cache with capacity `cap` (rows past `valid` are zeros)
template <int DP>
__device__ inline void load_kv(float* dst, const float* src, long long b, long long s0, int n, long long valid,
                               long long cap, long long H, long long hh, long long D) {
  constexpr int LD = DP + 1;
  for (int idx = threadIdx.x; idx < n * DP; idx += kT) {
    int r = idx / DP, d = idx % DP;
    long long s = s0 + r;
    dst[r * LD + d] = (s < valid && d < D) ? src[((b * cap + s) * H + hh) * D + d] : 0.0f;
  }
}
// the key range [begin, end) that queries [i0, i1] can see, begin rounded down to a tile
__device__ inline void key_range(const AttnDims& a, long long i0, long long i1, int tile, long long* begin,
                                 long long* end) {
  long long off = a.Tk - a.Tq;
  *end = a.causal ? min(a.Tk, off + i1 + 1) : a.Tk;
  long long bg = (a.causal && a.window > 0) ? max(0LL, off + i0 - a.window + 1) : 0;
  *begin = bg / tile * tile;
}

constexpr int FQ = 64, FK = 32;  // forward: query rows per block, keys per tile
template <int DP>
constexpr size_t fwd_smem() {
  return size_t(FQ * (DP + 1) + 2 * FK * (DP + 1) + FQ * (FK + 1)) * sizeof(float);
}

// grid (ceil(Tq / FQ), Hq, B). Thread: rows rg·4 + r (r < 4), keys cg + 8j (j < 4), output dims cg + 8jj.
template <int DP>
__global__ void __launch_bounds__(kT) fwd_k(const float* q, const float* k, const float* v, const int64_t* mask,
                                            AttnDims a, const float* bias, float* out, float* lse) {
  constexpr int LD = DP + 1, PL = FK + 1, NJ = DP / 8;
  PLF_SHARED_FLOATS(sm);
  float *Qs = sm, *Ks = Qs + FQ * LD, *Vs = Ks + FK * LD, *Ps = Vs + FK * LD;
  const int tid = threadIdx.x, rg = tid >> 3, cg = tid & 7;
  const long long b = blockIdx.z, h = blockIdx.y, i0 = (long long)blockIdx.x * FQ, off = a.Tk - a.Tq;
  const long long hk = h / (a.Hq / a.Hkv);
  load_rows<DP>(Qs, q, b, i0, FQ, a.Tq, a.Hq, h, a.D);
  float o[4][NJ], m[4], l[4];
#pragma unroll
  for (int r = 0; r < 4; r++) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int jj = 0; jj < NJ; jj++) o[r][jj] = 0.0f;
  }
  long long sBegin, sEnd;
  key_range(a, i0, min(i0 + FQ, a.Tq) - 1, FK, &sBegin, &sEnd);
  for (long long s0 = sBegin; s0 < sEnd; s0 += FK) {
    __syncthreads();  // the last tile is used up (and Q is loaded)
    load_kv<DP>(Ks, k, b, s0, FK, a.Tk, a.Tcap, a.Hkv, hk, a.D);
    load_kv<DP>(Vs, v, b, s0, FK, a.Tk, a.Tcap, a.Hkv, hk, a.D);
    __syncthreads();
    float sc[4][4] = {};
    for (int d = 0; d < DP; d++) {
      float qv[4], kv[4];
#pragma unroll
      for (int r = 0; r < 4; r++) qv[r] = Qs[(rg * 4 + r) * LD + d];
#pragma unroll
      for (int j = 0; j < 4; j++) kv[j] = Ks[(cg + 8 * j) * LD + d];
#pragma unroll
      for (int r = 0; r < 4; r++)
#pragma unroll
        for (int j = 0; j < 4; j++) sc[r][j] += qv[r] * kv[j];
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
      long long i = i0 + rg * 4 + r, t = off + i;
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < 4; j++) {
        long long s = s0 + cg + 8 * j;
        bool ok = i < a.Tq && s < a.Tk && allowed(mask, b, a.Tcap, t, s, a.window, a.causal);
        sc[r][j] = ok ? sc[r][j] * a.scale + bias_at(bias, a, h, i, s) : -INFINITY;
        mx = fmaxf(mx, sc[r][j]);
      }
      float mn = fmaxf(m[r], row_max8(mx));
      float corr = mn == -INFINITY ? 1.0f : expf(m[r] - mn), ps = 0.0f;
#pragma unroll
      for (int j = 0; j < 4; j++) {
        float p = sc[r][j] == -INFINITY ? 0.0f : expf(sc[r][j] - mn);
        Ps[(rg * 4 + r) * PL + cg + 8 * j] = p;
        ps += p;
      }
      l[r] = l[r] * corr + row_sum8(ps);
      m[r] = mn;
#pragma unroll
      for (int jj = 0; jj < NJ; jj++) o[r][jj] *= corr;
    }
    __syncwarp();  // a row's probabilities are written and read by the same 8 lanes
    for (int c = 0; c < FK; c++) {
      float vv[NJ];
#pragma unroll
      for (int jj = 0; jj < NJ; jj++) vv[jj] = Vs[c * LD + cg + 8 * jj];
#pragma unroll
      for (int r = 0; r < 4; r++) {
        float p = Ps[(rg * 4 + r) * PL + c];
#pragma unroll
        for (int jj = 0; jj < NJ; jj++) o[r][jj] += p * vv[jj];
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 4; r++) {
    long long i = i0 + rg * 4 + r;
    if (i >= a.Tq) continue;
    float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    float* ot = out + ((b * a.Tq + i) * a.Hq + h) * a.D;
#pragma unroll
    for (int jj = 0; jj < NJ; jj++) {
      int d = cg + 8 * jj;
      if (d < a.D) ot[d] = l[r] > 0.0f ? o[r][jj] * inv : 0.0f;
    }
    if (cg == 0) lse[(b * a.Hq + h) * a.Tq + i] = l[r] > 0.0f ? m[r] + logf(l[r]) : -INFINITY;
  }
}

// Δ = rowsum(dO ∘ O) per (b, h, i): one warp per row
template <DType T = DType::F32>
__global__ void delta_k(const void* dout, const void* out, AttnDims a, float* delta) {
  long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x & 31;
  if (row >= a.B * a.Hq * a.Tq) return;
  long long i = row % a.Tq, h = (row / a.Tq) % a.Hq, b = row / (a.Tq * a.Hq);
  long long base = ((b * a.Tq + i) * a.Hq + h) * a.D;
  float s = 0.0f;
  for (long long d = lane; d < a.D; d += 32) s += ld<T>(dout, base + d) * ld<T>(out, base + d);
  s = warp_sum(s);
  if (lane == 0) delta[(b * a.Hq + h) * a.Tq + i] = s;
}

constexpr int BQ = 32, BK = 32;  // backward tiles
template <int DP>
constexpr size_t bwd_smem() {
  return size_t(4 * 32 * (DP + 1) + 2 * 32 * (BK + 1) + 2 * 32) * sizeof(float);
}

// P and dS of one [BQ × BK] tile for the thread's rows rg·2 + r and keys cg + 8j: S = Q·Kᵀ, dP = dO·Vᵀ
template <int DP>
__device__ inline void tile_p_ds(const float* Qs, const float* dOs, const float* Ks, const float* Vs,
                                 const float* lse_s, const float* dl_s, const int64_t* mask, const AttnDims& a,
                                 const float* bias, long long b, long long h, long long i0, long long s0, float p[2][4],
                                 float ds[2][4]) {
  constexpr int LD = DP + 1;
  const int rg = threadIdx.x >> 3, cg = threadIdx.x & 7;
  float sc[2][4] = {}, dp[2][4] = {};
  for (int d = 0; d < DP; d++) {
    float qv[2], gv[2], kv[4], vv[4];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      qv[r] = Qs[(rg * 2 + r) * LD + d];
      gv[r] = dOs[(rg * 2 + r) * LD + d];
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
      kv[j] = Ks[(cg + 8 * j) * LD + d];
      vv[j] = Vs[(cg + 8 * j) * LD + d];
    }
#pragma unroll
    for (int r = 0; r < 2; r++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        sc[r][j] += qv[r] * kv[j];
        dp[r][j] += gv[r] * vv[j];
      }
  }
  const long long off = a.Tk - a.Tq;
#pragma unroll
  for (int r = 0; r < 2; r++) {
    long long i = i0 + rg * 2 + r;
    float L = lse_s[rg * 2 + r], dl = dl_s[rg * 2 + r];
#pragma unroll
    for (int j = 0; j < 4; j++) {
      long long s = s0 + cg + 8 * j;
      bool ok = i < a.Tq && s < a.Tk && L != -INFINITY && allowed(mask, b, a.Tk, off + i, s, a.window, a.causal);
      p[r][j] = ok ? expf(sc[r][j] * a.scale + bias_at(bias, a, h, i, s) - L) : 0.0f;
      ds[r][j] = p[r][j] * (dp[r][j] - dl) * a.scale;
    }
  }
}

__device__ inline void load_stats(float* lse_s, float* dl_s, const float* lse, const float* delta, const AttnDims& a,
                                  long long b, long long h, long long i0) {
#pragma unroll
  for (int r = threadIdx.x; r < BQ; r += kT) {
    long long i = i0 + r;
    lse_s[r] = i < a.Tq ? lse[(b * a.Hq + h) * a.Tq + i] : -INFINITY;
    dl_s[r] = i < a.Tq ? delta[(b * a.Hq + h) * a.Tq + i] : 0.0f;
  }
}

// dK, dV for keys [s0, s0 + BK) of kv head hk: every query tile of every query head of the group.
// grid (ceil(Tk / BK), Hkv, B). Thread: keys kr·2 + r, dims cg + 8jj.
template <int DP>
__global__ void __launch_bounds__(kT)
    dkdv_k(const float* dout, const float* q, const float* k, const float* v, const float* lse, const float* delta,
           const int64_t* mask, AttnDims a, const float* bias, float* dk, float* dv) {
  constexpr int LD = DP + 1, PL = BK + 1, NJ = DP / 8;
  PLF_SHARED_FLOATS(sm);
  float *Ks = sm, *Vs = Ks + BK * LD, *Qs = Vs + BK * LD, *dOs = Qs + BQ * LD, *Ps = dOs + BQ * LD, *dSs = Ps + BQ * PL;
  float *lse_s = dSs + BQ * PL, *dl_s = lse_s + BQ;
  const int tid = threadIdx.x, kr = tid >> 3, cg = tid & 7, rg = tid >> 3;
  const long long b = blockIdx.z, hk = blockIdx.y, s0 = (long long)blockIdx.x * BK, g = a.Hq / a.Hkv, off = a.Tk - a.Tq;
  load_kv<DP>(Ks, k, b, s0, BK, a.Tk, a.Tk, a.Hkv, hk, a.D);
  load_kv<DP>(Vs, v, b, s0, BK, a.Tk, a.Tk, a.Hkv, hk, a.D);
  float gk[2][NJ] = {}, gv[2][NJ] = {};
  // queries that can see these keys: causal t >= s (t = off + i); window t - s < window
  long long sLast = min(s0 + BK, a.Tk) - 1;
  long long iBegin = a.causal ? max(0LL, s0 - off) : 0;
  long long iEnd = (a.causal && a.window > 0) ? min(a.Tq, sLast + a.window - off) : a.Tq;
  iBegin = iBegin / BQ * BQ;
  for (long long h = hk * g; h < (hk + 1) * g; h++)
    for (long long i0 = iBegin; i0 < iEnd; i0 += BQ) {
      __syncthreads();
      load_rows<DP>(Qs, q, b, i0, BQ, a.Tq, a.Hq, h, a.D);
      load_rows<DP>(dOs, dout, b, i0, BQ, a.Tq, a.Hq, h, a.D);
      load_stats(lse_s, dl_s, lse, delta, a, b, h, i0);
      __syncthreads();
      float p[2][4], ds[2][4];
      tile_p_ds<DP>(Qs, dOs, Ks, Vs, lse_s, dl_s, mask, a, bias, b, h, i0, s0, p, ds);
#pragma unroll
      for (int r = 0; r < 2; r++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
          Ps[(rg * 2 + r) * PL + cg + 8 * j] = p[r][j];
          dSs[(rg * 2 + r) * PL + cg + 8 * j] = ds[r][j];
        }
      __syncthreads();
      for (int qq = 0; qq < BQ; qq++) {
        float pk[2], dk2[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
          pk[r] = Ps[qq * PL + kr * 2 + r];
          dk2[r] = dSs[qq * PL + kr * 2 + r];
        }
#pragma unroll
        for (int jj = 0; jj < NJ; jj++) {
          float go = dOs[qq * LD + cg + 8 * jj], qv = Qs[qq * LD + cg + 8 * jj];
#pragma unroll
          for (int r = 0; r < 2; r++) {
            gv[r][jj] += pk[r] * go;
            gk[r][jj] += dk2[r] * qv;
          }
        }
      }
    }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    long long s = s0 + kr * 2 + r;
    if (s >= a.Tk) continue;
    long long base = ((b * a.Tk + s) * a.Hkv + hk) * a.D;
#pragma unroll
    for (int jj = 0; jj < NJ; jj++) {
      int d = cg + 8 * jj;
      if (d < a.D) {
        dk[base + d] = gk[r][jj];
        dv[base + d] = gv[r][jj];
      }
    }
  }
}

// dQ for queries [i0, i0 + BQ) of head h over its key range. grid (ceil(Tq / BQ), Hq, B).
template <int DP>
__global__ void __launch_bounds__(kT)
    dq_k(const float* dout, const float* q, const float* k, const float* v, const float* lse, const float* delta,
         const int64_t* mask, AttnDims a, const float* bias, float* dq) {
  constexpr int LD = DP + 1, PL = BK + 1, NJ = DP / 8;
  PLF_SHARED_FLOATS(sm);
  float *Ks = sm, *Vs = Ks + BK * LD, *Qs = Vs + BK * LD, *dOs = Qs + BQ * LD, *dSs = dOs + BQ * LD + BQ * PL;
  float *lse_s = dSs + BQ * PL, *dl_s = lse_s + BQ;
  const int tid = threadIdx.x, rg = tid >> 3, cg = tid & 7;
  const long long b = blockIdx.z, h = blockIdx.y, i0 = (long long)blockIdx.x * BQ, hk = h / (a.Hq / a.Hkv);
  load_rows<DP>(Qs, q, b, i0, BQ, a.Tq, a.Hq, h, a.D);
  load_rows<DP>(dOs, dout, b, i0, BQ, a.Tq, a.Hq, h, a.D);
  load_stats(lse_s, dl_s, lse, delta, a, b, h, i0);
  float acc[2][NJ] = {};
  long long sBegin, sEnd;
  key_range(a, i0, min(i0 + BQ, a.Tq) - 1, BK, &sBegin, &sEnd);
  for (long long s0 = sBegin; s0 < sEnd; s0 += BK) {
    __syncthreads();
    load_kv<DP>(Ks, k, b, s0, BK, a.Tk, a.Tk, a.Hkv, hk, a.D);
    load_kv<DP>(Vs, v, b, s0, BK, a.Tk, a.Tk, a.Hkv, hk, a.D);
    __syncthreads();
    float p[2][4], ds[2][4];
    tile_p_ds<DP>(Qs, dOs, Ks, Vs, lse_s, dl_s, mask, a, bias, b, h, i0, s0, p, ds);
#pragma unroll
    for (int r = 0; r < 2; r++)
#pragma unroll
      for (int j = 0; j < 4; j++) dSs[(rg * 2 + r) * PL + cg + 8 * j] = ds[r][j];
    __syncwarp();  // a row's dS is written and read by the same 8 lanes
    for (int c = 0; c < BK; c++) {
      float d0 = dSs[(rg * 2) * PL + c], d1 = dSs[(rg * 2 + 1) * PL + c];
#pragma unroll
      for (int jj = 0; jj < NJ; jj++) {
        float kv = Ks[c * LD + cg + 8 * jj];
        acc[0][jj] += d0 * kv;
        acc[1][jj] += d1 * kv;
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    long long i = i0 + rg * 2 + r;
    if (i >= a.Tq) continue;
    float* qt = dq + ((b * a.Tq + i) * a.Hq + h) * a.D;
#pragma unroll
    for (int jj = 0; jj < NJ; jj++) {
      int d = cg + 8 * jj;
      if (d < a.D) qt[d] = acc[r][jj];
    }
  }
}

}  // namespace tiled
}  // namespace cuda
}  // namespace plf
