// Attention on tensor cores (FlashAttention-2's structure on wmma), for matmul precision
// bf16/f16 and head sizes up to 128: a block of 4 warps takes 64 queries of one head, 16 per warp;
// key/value tiles of 64 stream through shared memory rounded to the 16-bit operand type E; S = Q·Kᵀ
// and the tile's P·V run on tensor cores with f32 accumulation, the online softmax in f32 between
// them. wmma's fragment layout is opaque, so S and each P·V tile pass through the warp's own shared
// memory, and O lives in registers in a layout of our own (lane + 32·j of the warp's 16 × DP tile),
// where the rescaling by the softmax correction happens. q, k, v, out (and the gradients) are of the
// activation dtype T, read and written in place. Device code only (attention.cu launches
// it; test/cuda-emu runs it on the emulator, wmma included). Needs attention.cuh (AttnDims, allowed,
// key_range) and, under nvcc, <mma.h> first.
#pragma once
#include "plf/act.h"
#include "attention.cuh"
#include "operand16.cuh"

namespace plf {
namespace cuda {
namespace tcattn {
using namespace nvcuda;

constexpr int kW = 4, kT = 32 * kW, QT = 16 * kW, KT = 64;  // warps, threads, queries per block, keys per tile
template <int DP>
PLF_HD constexpr int lde() {
  return DP + 8;  // 16-bit rows of Q, K, V (wmma wants ldm a multiple of 8 elements)
}
constexpr int LDS = KT + 4, LDP = KT + 8;  // f32 rows of S, 16-bit rows of P
template <int DP>
PLF_HD constexpr int ldo() {
  return DP + 4;  // f32 rows of a P·V tile
}
template <typename E, int DP>
constexpr size_t smem() {
  return sizeof(E) * size_t(QT * lde<DP>() + 2 * KT * lde<DP>() + QT * LDP) +
         sizeof(float) * size_t(QT * LDS + QT * ldo<DP>() + 2 * QT);
}

// rows [r0, r0 + n) of src [.., rows|cap, H, D] (dtype T) at head hh, rounded to E, into dst [n][lde]
// (zeros past valid and D)
template <typename E, int DP, DType T>
__device__ inline void load_tile(E* dst, const void* src, long long b, long long r0, int n, long long valid,
                                 long long cap, long long H, long long hh, long long D) {
  constexpr int LD = lde<DP>();
  for (int idx = threadIdx.x; idx < n * DP; idx += kT) {
    int r = idx / DP, d = idx % DP;
    long long row = r0 + r;
    dst[r * LD + d] = to16<E>(row < valid && d < D ? ld<T>(src, ((b * cap + row) * H + hh) * D + d) : 0.0f);
  }
}

// grid (ceil(Tq / QT), Hq, B), kT threads, smem<E, DP>() bytes of dynamic shared memory; q, k, v, out of dtype T
template <typename E, int DP, DType T>
__global__ void __launch_bounds__(kT) fwd_k(const void* q, const void* k, const void* v, const int64_t* mask,
                                            AttnDims a, const float* bias, void* out, float* lse) {
  constexpr int LD = lde<DP>(), LO = ldo<DP>(), NO = 16 * DP / 32;  // O values per lane
  PLF_SHARED_FLOATS(sm);
  E* Qs = reinterpret_cast<E*>(sm);
  E* Ks = Qs + QT * LD;
  E* Vs = Ks + KT * LD;
  E* Ps = Vs + KT * LD;
  float* Ss = reinterpret_cast<float*>(Ps + QT * LDP);
  float* Os = Ss + QT * LDS;  // P·V tiles
  float* corr_s = Os + QT * LO;
  float* l_s = corr_s + QT;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const long long b = blockIdx.z, h = blockIdx.y, i0 = (long long)blockIdx.x * QT, off = a.Tk - a.Tq;
  const long long hk = h / (a.Hq / a.Hkv);
  load_tile<E, DP, T>(Qs, q, b, i0, QT, a.Tq, a.Tq, a.Hq, h, a.D);
  E* Pw = Ps + warp * 16 * LDP;  // this warp's rows
  float* Sw = Ss + warp * 16 * LDS;
  float* Ow = Os + warp * 16 * LO;
  // softmax: lanes 2r and 2r + 1 share row r (keys [0, 32) and [32, 64) of each tile)
  const int srow = lane >> 1, shalf = lane & 1;
  const long long si = i0 + warp * 16 + srow, sabs = off + si;
  float m = -INFINITY, l = 0.0f, o[NO];
#pragma unroll
  for (int j = 0; j < NO; j++) o[j] = 0.0f;
  long long sBegin, sEnd;
  tiled::key_range(a, i0, min(i0 + QT, a.Tq) - 1, KT, &sBegin, &sEnd);
  for (long long s0 = sBegin; s0 < sEnd; s0 += KT) {
    __syncthreads();  // every warp is done with the last K/V tile (and Q is loaded)
    load_tile<E, DP, T>(Ks, k, b, s0, KT, a.Tk, a.Tcap, a.Hkv, hk, a.D);
    load_tile<E, DP, T>(Vs, v, b, s0, KT, a.Tk, a.Tcap, a.Hkv, hk, a.D);
    __syncthreads();
    {  // S [16, KT] = Q·Kᵀ for this warp's rows
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf[KT / 16];
#pragma unroll
      for (int n = 0; n < KT / 16; n++) wmma::fill_fragment(sf[n], 0.0f);
#pragma unroll
      for (int d = 0; d < DP; d += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, E, wmma::row_major> qf;
        wmma::load_matrix_sync(qf, Qs + warp * 16 * LD + d, LD);
#pragma unroll
        for (int n = 0; n < KT / 16; n++) {
          wmma::fragment<wmma::matrix_b, 16, 16, 16, E, wmma::col_major> kf;  // B(d, s) = K[s][d]
          wmma::load_matrix_sync(kf, Ks + n * 16 * LD + d, LD);
          wmma::mma_sync(sf[n], qf, kf, sf[n]);
        }
      }
#pragma unroll
      for (int n = 0; n < KT / 16; n++) wmma::store_matrix_sync(Sw + n * 16, sf[n], LDS, wmma::mem_row_major);
    }
    __syncwarp();
    {  // the online softmax of row srow over its half of the tile; P rounded to E
      float sc[KT / 2], mx = -INFINITY;
#pragma unroll
      for (int c = 0; c < KT / 2; c++) {
        int col = shalf * (KT / 2) + c;
        long long s = s0 + col;
        bool ok = si < a.Tq && s < a.Tk && allowed(mask, b, a.Tcap, sabs, s, a.window, a.causal);
        sc[c] = ok ? Sw[srow * LDS + col] * a.scale + (bias ? bias[(h * a.Tq + si) * a.Tk + s] : 0.0f) : -INFINITY;
        mx = fmaxf(mx, sc[c]);
      }
      float mn = fmaxf(m, fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1)));
      float corr = mn == -INFINITY ? 1.0f : expf(m - mn), ps = 0.0f;
#pragma unroll
      for (int c = 0; c < KT / 2; c++) {
        float p = sc[c] == -INFINITY ? 0.0f : expf(sc[c] - mn);
        Pw[srow * LDP + shalf * (KT / 2) + c] = to16<E>(p);
        ps += p;
      }
      l = l * corr + ps + __shfl_xor_sync(0xffffffffu, ps, 1);
      m = mn;
      if (shalf == 0) corr_s[warp * 16 + srow] = corr;
    }
    __syncwarp();
    // O = O·corr + P·V, one 16-column block of V at a time through Ow
#pragma unroll
    for (int cb = 0; cb < DP; cb += 16) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
      wmma::fill_fragment(of, 0.0f);
#pragma unroll
      for (int kk = 0; kk < KT; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, E, wmma::row_major> pf;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, E, wmma::row_major> vf;  // B(s, d) = V[s][d]
        wmma::load_matrix_sync(pf, Pw + kk, LDP);
        wmma::load_matrix_sync(vf, Vs + kk * LD + cb, LD);
        wmma::mma_sync(of, pf, vf, of);
      }
      wmma::store_matrix_sync(Ow + cb, of, LO, wmma::mem_row_major);
    }
    __syncwarp();
#pragma unroll
    for (int j = 0; j < NO; j++) {
      int e = lane + 32 * j, r = e / DP, c = e % DP;
      o[j] = o[j] * corr_s[warp * 16 + r] + Ow[r * LO + c];
    }
    __syncwarp();  // Ow and corr_s are rewritten by the next tile
  }
  if (shalf == 0) l_s[warp * 16 + srow] = l;
  if (shalf == 0 && si < a.Tq) lse[(b * a.Hq + h) * a.Tq + si] = l > 0.0f ? m + logf(l) : -INFINITY;
  __syncwarp();
#pragma unroll
  for (int j = 0; j < NO; j++) {
    int e = lane + 32 * j, r = e / DP, c = e % DP;
    long long i = i0 + warp * 16 + r;
    float lr = l_s[warp * 16 + r];
    if (i < a.Tq && c < a.D) st<T>(out, ((b * a.Tq + i) * a.Hq + h) * a.D + c, lr > 0.0f ? o[j] / lr : 0.0f);
  }
}

// ---- backward (FlashAttention-2's): P recomputed from the saved log-sum-exp, dS = P ∘ (dP − Δ) with
// Δ = rowsum(dO ∘ O) (tiled::delta_k); every product on tensor cores, P and dS rounded to E. dK/dV: a
// block per key tile (4 warps × 16 keys) over every query tile and every query head of its GQA
// group, dK and dV held in accumulator fragments; dQ: a block per query tile (4 warps × 16 queries)
// over its key range. No atomics: deterministic.
template <typename E, int DP>
constexpr size_t bwd_smem() {
  return sizeof(E) * size_t(4 * KT * lde<DP>() + 2 * QT * LDP) + sizeof(float) * size_t(2 * QT * LDS + 2 * QT);
}

// dst [n][lde] ← lse/Δ-style per-row stats are loaded by the caller; this loads q/dO rows of head hh
template <typename E, int DP, DType T>
__device__ inline void load_q_tile(E* dst, const void* src, const AttnDims& a, long long b, long long i0,
                                   long long hh) {
  load_tile<E, DP, T>(dst, src, b, i0, QT, a.Tq, a.Tq, a.Hq, hh, a.D);
}

// The backward's two products for one warp: s1 = a1·b1ᵀ and s2 = a2·b2ᵀ, a1/a2 the warp's 16 rows and
// b1/b2 a tile of 64 rows, all [.., DP] in E with row stride lde; s1/s2 [16, 64] f32 with stride LDS.
// (dK/dV: Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ; dQ: S = Q·Kᵀ and dP = dO·Vᵀ.)
template <typename E, int DP>
__device__ inline void two_products(const E* a1, const E* a2, const E* b1, const E* b2, float* s1, float* s2) {
  constexpr int LD = lde<DP>();
  static_assert(QT == KT, "both tiles hold 64 rows");
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> f1[KT / 16], f2[KT / 16];
#pragma unroll
  for (int n = 0; n < KT / 16; n++) {
    wmma::fill_fragment(f1[n], 0.0f);
    wmma::fill_fragment(f2[n], 0.0f);
  }
#pragma unroll
  for (int d = 0; d < DP; d += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, E, wmma::row_major> x1, x2;
    wmma::load_matrix_sync(x1, a1 + d, LD);
    wmma::load_matrix_sync(x2, a2 + d, LD);
#pragma unroll
    for (int n = 0; n < KT / 16; n++) {
      wmma::fragment<wmma::matrix_b, 16, 16, 16, E, wmma::col_major> y1, y2;  // B(d, j) = b[j][d]
      wmma::load_matrix_sync(y1, b1 + n * 16 * LD + d, LD);
      wmma::load_matrix_sync(y2, b2 + n * 16 * LD + d, LD);
      wmma::mma_sync(f1[n], x1, y1, f1[n]);
      wmma::mma_sync(f2[n], x2, y2, f2[n]);
    }
  }
#pragma unroll
  for (int n = 0; n < KT / 16; n++) {
    wmma::store_matrix_sync(s1 + n * 16, f1[n], LDS, wmma::mem_row_major);
    wmma::store_matrix_sync(s2 + n * 16, f2[n], LDS, wmma::mem_row_major);
  }
}

// the log-sum-exp and Δ of queries [i0, i0 + QT) of head h (past Tq: -inf and 0, so P = dS = 0 there)
__device__ inline void load_stats(float* lse_s, float* dl_s, const float* lse, const float* delta, const AttnDims& a,
                                  long long b, long long h, long long i0) {
  for (int r = threadIdx.x; r < QT; r += kT) {
    long long i = i0 + r;
    lse_s[r] = i < a.Tq ? lse[(b * a.Hq + h) * a.Tq + i] : -INFINITY;
    dl_s[r] = i < a.Tq ? delta[(b * a.Hq + h) * a.Tq + i] : 0.0f;
  }
}

// P and dS of element (row i = query, col s = key) from s_raw = q·k and dp = dO·v; zeros when masked
__device__ inline void p_ds(const AttnDims& a, const int64_t* mask, const float* bias, long long b, long long h,
                            long long i, long long s, float s_raw, float dp, float lse_i, float delta_i, float* p,
                            float* ds) {
  long long t = a.Tk - a.Tq + i;
  bool ok = i < a.Tq && s < a.Tk && allowed(mask, b, a.Tk, t, s, a.window, a.causal) && lse_i != -INFINITY;
  float pv = ok ? expf(s_raw * a.scale + (bias ? bias[(h * a.Tq + i) * a.Tk + s] : 0.0f) - lse_i) : 0.0f;
  *p = pv;
  *ds = pv * (dp - delta_i);
}

// grid (ceil(Tk / KT), Hkv, B), kT threads, bwd_smem<E, DP>() bytes; dout, q, k, v, dk, dv of dtype T
template <typename E, int DP, DType T>
__global__ void __launch_bounds__(kT)
    dkdv_k(const void* dout, const void* q, const void* k, const void* v, const float* lse, const float* delta,
           const int64_t* mask, AttnDims a, const float* bias, void* dk, void* dv) {
  constexpr int LD = lde<DP>(), NC = DP / 16;
  PLF_SHARED_FLOATS(sm);
  E* Ks = reinterpret_cast<E*>(sm);
  E* Vs = Ks + KT * LD;
  E* Qs = Vs + KT * LD;
  E* dOs = Qs + QT * LD;
  E* Pt = dOs + QT * LD;  // Pᵀ [keys][queries] of each warp's 16 keys
  E* dSt = Pt + QT * LDP;
  float* St = reinterpret_cast<float*>(dSt + QT * LDP);  // Sᵀ, then dPᵀ per warp
  float* dPt = St + QT * LDS;
  float* lse_s = dPt + QT * LDS;
  float* dl_s = lse_s + QT;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const long long b = blockIdx.z, hk = blockIdx.y, s0 = (long long)blockIdx.x * KT, G = a.Hq / a.Hkv;
  load_tile<E, DP, T>(Ks, k, b, s0, KT, a.Tk, a.Tk, a.Hkv, hk, a.D);
  load_tile<E, DP, T>(Vs, v, b, s0, KT, a.Tk, a.Tk, a.Hkv, hk, a.D);
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> gk[NC], gv[NC];
#pragma unroll
  for (int c = 0; c < NC; c++) {
    wmma::fill_fragment(gk[c], 0.0f);
    wmma::fill_fragment(gv[c], 0.0f);
  }
  // the queries that can see keys [s0, s0 + KT): causal ones from position s0 on (a window ends them)
  const long long off = a.Tk - a.Tq;
  long long iBegin = a.causal ? max(0LL, s0 - off) : 0, iEnd = a.Tq;
  if (a.causal && a.window > 0) iEnd = min(a.Tq, s0 + KT - 1 + a.window - off);
  iBegin = iBegin / QT * QT;
  E* Ptw = Pt + warp * 16 * LDP;
  E* dStw = dSt + warp * 16 * LDP;
  float* Stw = St + warp * 16 * LDS;
  float* dPtw = dPt + warp * 16 * LDS;
  for (long long hq = hk * G; hq < (hk + 1) * G; hq++)
    for (long long i0 = iBegin; i0 < iEnd; i0 += QT) {
      __syncthreads();  // every warp is done with the last Q/dO tile
      load_q_tile<E, DP, T>(Qs, q, a, b, i0, hq);
      load_q_tile<E, DP, T>(dOs, dout, a, b, i0, hq);
      load_stats(lse_s, dl_s, lse, delta, a, b, hq, i0);
      __syncthreads();
      // Sᵀ = K_w·Qᵀ and dPᵀ = V_w·dOᵀ: [16 keys, QT queries]
      two_products<E, DP>(Ks + warp * 16 * LD, Vs + warp * 16 * LD, Qs, dOs, Stw, dPtw);
      __syncwarp();
      for (int e = lane; e < 16 * QT; e += 32) {  // row = key, col = query
        int r = e / QT, c = e % QT;
        float p, ds;
        p_ds(a, mask, bias, b, hq, i0 + c, s0 + warp * 16 + r, Stw[r * LDS + c], dPtw[r * LDS + c], lse_s[c], dl_s[c],
             &p, &ds);
        Ptw[r * LDP + c] = to16<E>(p);
        dStw[r * LDP + c] = to16<E>(ds);
      }
      __syncwarp();
      // dV_w += Pᵀ_w·dO and dK_w += dSᵀ_w·Q ([16, QT]·[QT, D])
#pragma unroll
      for (int kk = 0; kk < QT; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, E, wmma::row_major> pa, sa;
        wmma::load_matrix_sync(pa, Ptw + kk, LDP);
        wmma::load_matrix_sync(sa, dStw + kk, LDP);
#pragma unroll
        for (int c = 0; c < NC; c++) {
          wmma::fragment<wmma::matrix_b, 16, 16, 16, E, wmma::row_major> ob, qb;  // B(i, d) = dO[i][d], Q[i][d]
          wmma::load_matrix_sync(ob, dOs + kk * LD + c * 16, LD);
          wmma::load_matrix_sync(qb, Qs + kk * LD + c * 16, LD);
          wmma::mma_sync(gv[c], pa, ob, gv[c]);
          wmma::mma_sync(gk[c], sa, qb, gk[c]);
        }
      }
    }
  // out through the warp's f32 scratch: dK scaled, both cut to D and the valid keys
  __syncwarp();
#pragma unroll
  for (int c = 0; c < NC; c++) {
    wmma::store_matrix_sync(Stw, gk[c], LDS, wmma::mem_row_major);
    wmma::store_matrix_sync(dPtw, gv[c], LDS, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) {
      int r = e / 16, d = c * 16 + e % 16;
      long long s = s0 + warp * 16 + r;
      if (s < a.Tk && d < a.D) {
        long long o = ((b * a.Tk + s) * a.Hkv + hk) * a.D + d;
        st<T>(dk, o, Stw[r * LDS + e % 16] * a.scale);
        st<T>(dv, o, dPtw[r * LDS + e % 16]);
      }
    }
    __syncwarp();
  }
}

// grid (ceil(Tq / QT), Hq, B), kT threads, bwd_smem<E, DP>() bytes; dout, q, k, v, dq of dtype T
template <typename E, int DP, DType T>
__global__ void __launch_bounds__(kT)
    dq_k(const void* dout, const void* q, const void* k, const void* v, const float* lse, const float* delta,
         const int64_t* mask, AttnDims a, const float* bias, void* dq) {
  constexpr int LD = lde<DP>(), NC = DP / 16;
  PLF_SHARED_FLOATS(sm);
  E* Ks = reinterpret_cast<E*>(sm);
  E* Vs = Ks + KT * LD;
  E* Qs = Vs + KT * LD;
  E* dOs = Qs + QT * LD;
  E* dS = dOs + QT * LD;  // [queries][keys] of each warp's 16 queries
  float* S = reinterpret_cast<float*>(dS + 2 * QT * LDP);
  float* dP = S + QT * LDS;
  float* lse_s = dP + QT * LDS;
  float* dl_s = lse_s + QT;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const long long b = blockIdx.z, h = blockIdx.y, i0 = (long long)blockIdx.x * QT, hk = h / (a.Hq / a.Hkv);
  load_q_tile<E, DP, T>(Qs, q, a, b, i0, h);
  load_q_tile<E, DP, T>(dOs, dout, a, b, i0, h);
  load_stats(lse_s, dl_s, lse, delta, a, b, h, i0);
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> gq[NC];
#pragma unroll
  for (int c = 0; c < NC; c++) wmma::fill_fragment(gq[c], 0.0f);
  E* dSw = dS + warp * 16 * LDP;
  float* Sw = S + warp * 16 * LDS;
  float* dPw = dP + warp * 16 * LDS;
  long long sBegin, sEnd;
  tiled::key_range(a, i0, min(i0 + QT, a.Tq) - 1, KT, &sBegin, &sEnd);
  for (long long s0 = sBegin; s0 < sEnd; s0 += KT) {
    __syncthreads();  // every warp is done with the last K/V tile (and Q, dO, the stats are loaded)
    load_tile<E, DP, T>(Ks, k, b, s0, KT, a.Tk, a.Tk, a.Hkv, hk, a.D);
    load_tile<E, DP, T>(Vs, v, b, s0, KT, a.Tk, a.Tk, a.Hkv, hk, a.D);
    __syncthreads();
    // S = Q_w·Kᵀ and dP = dO_w·Vᵀ: [16 queries, KT keys]
    two_products<E, DP>(Qs + warp * 16 * LD, dOs + warp * 16 * LD, Ks, Vs, Sw, dPw);
    __syncwarp();
    for (int e = lane; e < 16 * KT; e += 32) {  // row = query, col = key
      int r = e / KT, c = e % KT;
      float p, ds;
      p_ds(a, mask, bias, b, h, i0 + warp * 16 + r, s0 + c, Sw[r * LDS + c], dPw[r * LDS + c], lse_s[warp * 16 + r],
           dl_s[warp * 16 + r], &p, &ds);
      dSw[r * LDP + c] = to16<E>(ds);
    }
    __syncwarp();
#pragma unroll
    for (int kk = 0; kk < KT; kk += 16) {  // dQ_w += dS_w·K ([16, KT]·[KT, D])
      wmma::fragment<wmma::matrix_a, 16, 16, 16, E, wmma::row_major> sa;
      wmma::load_matrix_sync(sa, dSw + kk, LDP);
#pragma unroll
      for (int c = 0; c < NC; c++) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, E, wmma::row_major> kb;  // B(s, d) = K[s][d]
        wmma::load_matrix_sync(kb, Ks + kk * LD + c * 16, LD);
        wmma::mma_sync(gq[c], sa, kb, gq[c]);
      }
    }
  }
  __syncwarp();
#pragma unroll
  for (int c = 0; c < NC; c++) {
    wmma::store_matrix_sync(Sw, gq[c], LDS, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) {
      int r = e / 16, d = c * 16 + e % 16;
      long long i = i0 + warp * 16 + r;
      if (i < a.Tq && d < a.D) st<T>(dq, ((b * a.Tq + i) * a.Hq + h) * a.D + d, Sw[r * LDS + e % 16] * a.scale);
    }
    __syncwarp();
  }
}

}  // namespace tcattn
}  // namespace cuda
}  // namespace plf
