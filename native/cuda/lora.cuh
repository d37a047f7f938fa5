// LoRA's rank-r products on CUDA (r <= 64), device code only: included by linear.cu, and by
// test/cuda-emu to check them on the CPU. The general GEMM would run these on a handful of tiles.
// The full-size operand (x, dy, y or dx) has the activations' dtype T, read and written in place;
// the rank-r ones (A, B, xa, dxa) are f32.
#pragma once
#include "plf/linear.h"
#include "plf/act.h"

namespace plf {
namespace cuda {

// out[m][j] = alpha·Σ_k drop(A)[m][k]·S(j, k) (+ beta·out), S(j, k) = s[j·srs + k·scs]: one warp per
// row m, lanes split k, then a warp reduction per j. drop: LoRA's dropout mask (p = 0: none), applied
// as A is read instead of materialising dropout(x).
template <int RM, DType T>
__global__ void rank_rows_k(long long M, long long K, int r, float alpha, const void* __restrict__ A,
                            const float* __restrict__ S, long long srs, long long scs, float beta, float* out, float p,
                            unsigned long long seed) {
  const int lane = threadIdx.x & 31;
  const long long warps = (long long)gridDim.x * (blockDim.x / 32);
  for (long long m = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; m < M; m += warps) {
    float acc[RM];
#pragma unroll
    for (int j = 0; j < RM; j++) acc[j] = 0.0f;
    for (long long k = lane; k < K; k += 32) {
      float a = ld<T>(A, m * K + k);
      if (p > 0.0f) a *= dropout_keep_scale(seed, m * K + k, p);
#pragma unroll
      for (int j = 0; j < RM; j++)
        if (j < r) acc[j] += a * __ldg(S + j * srs + k * scs);
    }
#pragma unroll
    for (int j = 0; j < RM; j++) {
      float v = warp_sum(acc[j]);
      if ((j & 31) == lane && j < r) out[m * r + j] = beta == 0.0f ? alpha * v : alpha * v + beta * out[m * r + j];
    }
  }
}

// xa_i[m][j] = Σ_k x[m][k]·A_i[j][k] for M <= kRankGemvRows rows (decoding) and up to three
// adapters over one x: one block per (adapter, j) — rank_rows_k would give a row's whole product to
// one warp, one warp for the GPU at one row. A's row is read once (16-byte loads when vec: K % 4 == 0,
// A 16-byte aligned) and shared by the M rows; partial sums reduce in a fixed order (deterministic).
constexpr int kRankGemvRows = 8, kRankGemvThreads = 256;
struct RankSeg {
  const float* a = nullptr;
  float* out = nullptr;
  int r = 0;
};
struct RankSegs {
  RankSeg s[3];
  int n = 0;
};
template <DType T>
__global__ void __launch_bounds__(kRankGemvThreads)
    rank_gemv_k(const void* __restrict__ x, long long M, long long K, RankSegs segs, bool vec) {
  __shared__ float part[kRankGemvRows][kRankGemvThreads / 32];
  int i = 0, j = blockIdx.x;
  while (i + 1 < segs.n && j >= segs.s[i].r) j -= segs.s[i++].r;
  const RankSeg& sg = segs.s[i];
  const float* a = sg.a + (long long)j * K;
  float acc[kRankGemvRows];
#pragma unroll
  for (int m = 0; m < kRankGemvRows; m++) acc[m] = 0.0f;
  if (vec) {
    for (long long k = 4LL * threadIdx.x; k < K; k += 4LL * kRankGemvThreads) {
      const float4 av = *reinterpret_cast<const float4*>(a + k);
#pragma unroll
      for (int m = 0; m < kRankGemvRows; m++)
        if (m < M)
          acc[m] += av.x * ld<T>(x, m * K + k) + av.y * ld<T>(x, m * K + k + 1) + av.z * ld<T>(x, m * K + k + 2) +
                    av.w * ld<T>(x, m * K + k + 3);
    }
  } else {
    for (long long k = threadIdx.x; k < K; k += kRankGemvThreads) {
      const float av = a[k];
#pragma unroll
      for (int m = 0; m < kRankGemvRows; m++)
        if (m < M) acc[m] += av * ld<T>(x, m * K + k);
    }
  }
  const int lane = threadIdx.x & 31, wid = threadIdx.x / 32;
#pragma unroll
  for (int m = 0; m < kRankGemvRows; m++) {
    float v = warp_sum(acc[m]);
    if (lane == 0) part[m][wid] = v;
  }
  __syncthreads();
  if (threadIdx.x < M) {
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < kRankGemvThreads / 32; w++) s += part[threadIdx.x][w];
    sg.out[threadIdx.x * sg.r + j] = s;
  }
}

// out(n, j) += alpha·Σ_m drop(P)[m][n]·Q[m][j] over one chunk of rows per block (split over m,
// atomics); out(n, j) = o[n·ons + j·ojs]. One thread per n; Q's row is shared by the block.
template <int RM, DType T>
__global__ void rank_cols_k(long long M, long long N, int r, float alpha, const void* __restrict__ P,
                            const float* __restrict__ Q, long long chunk, float* o, long long ons, long long ojs,
                            float p, unsigned long long seed) {
  long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  long long m0 = (long long)blockIdx.y * chunk, m1 = m0 + chunk < M ? m0 + chunk : M;
  if (n >= N) return;
  float acc[RM];
#pragma unroll
  for (int j = 0; j < RM; j++) acc[j] = 0.0f;
  for (long long m = m0; m < m1; m++) {
    float pv = ld<T>(P, m * N + n);
    if (p > 0.0f) pv *= dropout_keep_scale(seed, m * N + n, p);
#pragma unroll
    for (int j = 0; j < RM; j++)
      if (j < r) acc[j] += pv * __ldg(Q + m * r + j);
  }
#pragma unroll
  for (int j = 0; j < RM; j++)
    if (j < r) atomicAdd(o + n * ons + j * ojs, alpha * acc[j]);
}

// out[m·C + c] += alpha·drop(m·C + c)·Σ_j L[m·r + j]·R(j, c), R(j, c) = R[j·rrs + c·rcs]: the
// rank-r product added straight into a full-size output (y += s·xa·Bᵀ; dx += dropout'(dxa·A)),
// with no full-size temporary. Block tile 32 rows × 64 columns, R's and L's slices in shared memory.
constexpr int XM = 32, XC = 64;
template <int RM, DType T>
__global__ void __launch_bounds__(256)
    rank_expand_k(long long M, long long C, int r, float alpha, const float* __restrict__ L,
                  const float* __restrict__ R, long long rrs, long long rcs, float p, unsigned long long seed,
                  void* out) {
  __shared__ float Rs[RM][XC];
  __shared__ float Ls[XM][RM + 1];
  const int tx = threadIdx.x, ty = threadIdx.y, t = ty * XC + tx;
  const long long c0 = (long long)blockIdx.x * XC, m0 = (long long)blockIdx.y * XM;
  for (int e = t; e < RM * XC; e += 256) {
    int j = e / XC, cc = e % XC;
    long long c = c0 + cc;
    Rs[j][cc] = j < r && c < C ? R[j * rrs + c * rcs] : 0.0f;
  }
  for (int e = t; e < XM * RM; e += 256) {
    int mm = e / RM, j = e % RM;
    long long m = m0 + mm;
    Ls[mm][j] = j < r && m < M ? L[m * r + j] : 0.0f;
  }
  __syncthreads();
  const long long c = c0 + tx;
  if (c >= C) return;
  for (int mm = ty; mm < XM && m0 + mm < M; mm += 4) {
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < RM; j++) s += Ls[mm][j] * Rs[j][tx];  // rows j >= r are zeros
    long long i = (m0 + mm) * C + c;
    st<T>(out, i, ld<T>(out, i) + alpha * dropout_keep_scale(seed, i, p) * s);
  }
}

}  // namespace cuda
}  // namespace plf
