// The GEMM kernels (gemm.cu launches them): the tiled f32 SIMT kernel, the tensor-core kernel (wmma
// bf16/f16 → f32) and the NF4 absmax resolver. Device code only, so the CPU emulator (test/cuda-emu,
// which emulates wmma) compiles it too; the includer defines kNF4[16], this file's copy of the NF4
// code, and under nvcc includes <mma.h>, <cuda_bf16.h> and <cuda_fp16.h> first.
#pragma once
#include "gemm.cuh"
#include "operand16.cuh"
#include <type_traits>

namespace plf {
namespace cuda {

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, kThreads = (BM / TM) * (BN / TN);

// C[M,N] = alpha·A·B + beta·C (ldc); beta = 0 never reads C
__global__ void __launch_bounds__(kThreads)
    gemm_k(long long M, long long N, long long K, float alpha, StridedA A, OperandB B, float beta, OutC C) {
  __shared__ float As[BK][BM + 4];
  __shared__ float Bs[BK][BN + 4];
  __shared__ float code[16];
  if (threadIdx.x < 16) code[threadIdx.x] = kNF4[threadIdx.x];
  const long long m0 = (long long)blockIdx.y * BM, n0 = (long long)blockIdx.x * BN;
  const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
  float acc[TM][TN] = {};
  for (long long k0 = 0; k0 < K; k0 += BK) {
    __syncthreads();
    for (int e = threadIdx.x; e < BM * BK; e += kThreads) {
      int mm = e / BK, kk = e % BK;  // consecutive threads walk k (A rows are usually k-contiguous)
      long long m = m0 + mm, k = k0 + kk;
      As[kk][mm] = m < M && k < K ? A.at(m, k) : 0.0f;
    }
    for (int e = threadIdx.x; e < BN * BK; e += kThreads) {
      int nn = e / BK, kk = e % BK;
      long long n = n0 + nn, k = k0 + kk;
      Bs[kk][nn] = n < N && k < K ? B.at(k, n, code) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; kk++) {
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; i++) a[i] = As[kk][ty * TM + i];
#pragma unroll
      for (int j = 0; j < TN; j++) b[j] = Bs[kk][tx * TN + j];
#pragma unroll
      for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] += a[i] * b[j];
    }
  }
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++) {
      long long m = m0 + ty * TM + i, n = n0 + tx * TN + j;
      if (m < M && n < N) {
        long long c = m * C.ld + n;
        st(C.p, C.t, c, beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * ld(C.p, C.t, c));
      }
    }
}

// --- tensor-core path (matmul precision "bf16" — like torch's "medium" — or "f16") ---------------
// 128×128 block tiles, 32-deep k steps, 8 warps of 64×32 (wmma 16×16×16 bf16/f16 → f32). Operands are
// rounded to 16 bits as they are staged into shared memory: f32 activations are converted there and
// NF4 weights dequantized there, so W is read from memory at 4 bits. The next tile's global loads
// are issued into registers before the current tile's MMAs (a two-stage pipeline).
namespace tc {
constexpr int TBM = 128, TBN = 128, TBK = 32, PAD = 8, kWarps = 8,
              kT = kWarps * 32;  // TBK 64 measured slower (87 vs 98 TFLOP/s)
using namespace nvcuda;

// fast: row-major f32 A (float4 loads); NF4 B either x·Wᵀ (8 k of a row per item, Bs[n][k]) or
// dy·W (8 n of a row per item, Bs[k][n])
// a16: A pre-rounded to E (row-major, ld = K); am: the weight's absmax per block, resolved once
struct Fast {
  bool a, nf4;
  const void* a16;
  const float* am;
};

template <typename E, bool BRow>
__global__ void __launch_bounds__(kT, 2) gemm_tc_k(long long M, long long N, long long K, float alpha, StridedA A,
                                                   OperandB B, float beta, OutC C, Fast fast) {
  __shared__ __align__(32) E As[TBM][TBK + PAD];
  __shared__ __align__(32) E Bs[BRow ? TBK : TBN][BRow ? TBN + PAD : TBK + PAD];
  __shared__ __align__(32) float stage[kWarps][16 * 16];
  __shared__ float code[16];
  if (threadIdx.x < 16) code[threadIdx.x] = kNF4[threadIdx.x];
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int wm = warp / 4, wn = warp % 4;  // 2 × 4 warps, each 64 (m) × 32 (n)
  const long long m0 = (long long)blockIdx.y * TBM, n0 = (long long)blockIdx.x * TBN;
  const NF4View& q = B.w.w.nf4;
  constexpr int kA = TBM * TBK / 8 / kT, kB = TBN * TBK / 8 / kT;  // items per thread: 2 and 2
  uint4 ra[kA];
  uint32_t rb[kB];
  float ram[kB];

  auto load_global = [&](long long k0) {
    if (fast.a)
#pragma unroll
      for (int t = 0; t < kA; t++) {  // 8 16-bit values of a row per item
        int e = threadIdx.x + t * kT, mm = e / (TBK / 8), kk = (e % (TBK / 8)) * 8;
        long long m = m0 + mm, k = k0 + kk;
        ra[t] = m < M && k < K ? __ldg(reinterpret_cast<const uint4*>(static_cast<const E*>(fast.a16) + m * K + k))
                               : make_uint4(0, 0, 0, 0);
      }
    if (fast.nf4)
#pragma unroll
      for (int t = 0; t < kB; t++) {
        int e = threadIdx.x + t * kT;
        long long i0;
        bool ok;
        if (BRow) {  // B(k, n) = W[k][n]: 8 consecutive n of row k
          int kk = e / (TBN / 8), nn = (e % (TBN / 8)) * 8;
          ok = k0 + kk < K && n0 + nn < N;
          i0 = (k0 + kk) * B.w.w.cols + n0 + nn;
        } else {  // B(k, n) = W[n][k]: 8 consecutive k of row n
          int nn = e / (TBK / 8), kk = (e % (TBK / 8)) * 8;
          ok = n0 + nn < N && k0 + kk < K;
          i0 = (n0 + nn) * B.w.w.cols + k0 + kk;
        }
        rb[t] = ok ? __ldg(reinterpret_cast<const uint32_t*>(q.packed + (i0 >> 1))) : 0u;
        ram[t] = ok ? __ldg(fast.am + i0 / q.blocksize) : 0.0f;
      }
  };
  auto store_shared = [&](long long k0) {
    if (fast.a) {
#pragma unroll
      for (int t = 0; t < kA; t++) {
        int e = threadIdx.x + t * kT, mm = e / (TBK / 8), kk = (e % (TBK / 8)) * 8;
        *reinterpret_cast<uint4*>(&As[mm][kk]) = ra[t];
      }
    } else {
      for (int e = threadIdx.x; e < TBM * TBK; e += kT) {
        int mm = e / TBK, kk = e % TBK;
        long long m = m0 + mm, k = k0 + kk;
        As[mm][kk] = to16<E>(m < M && k < K ? A.at(m, k) : 0.0f);
      }
    }
    if (fast.nf4) {
#pragma unroll
      for (int t = 0; t < kB; t++) {
        int e = threadIdx.x + t * kT;
        uint32_t u[4];
#pragma unroll
        for (int j = 0; j < 4; j++) {
          unsigned b = (rb[t] >> (8 * j)) & 255u;
          u[j] = to16x2<E>(__fmul_rn(code[b >> 4], ram[t]), __fmul_rn(code[b & 15], ram[t]));
        }
        E* dst = BRow ? &Bs[e / (TBN / 8)][(e % (TBN / 8)) * 8] : &Bs[e / (TBK / 8)][(e % (TBK / 8)) * 8];
        *reinterpret_cast<uint4*>(dst) = make_uint4(u[0], u[1], u[2], u[3]);
      }
    } else {
      for (int e = threadIdx.x; e < TBN * TBK; e += kT) {
        // walk the operand's contiguous direction: n for row-major tiles, k otherwise
        int nn = BRow ? e % TBN : e / TBK, kk = BRow ? e / TBN : e % TBK;
        long long n = n0 + nn, k = k0 + kk;
        E v = to16<E>(n < N && k < K ? B.at(k, n, code) : 0.0f);
        if (BRow)
          Bs[kk][nn] = v;
        else
          Bs[nn][kk] = v;
      }
    }
  };

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][2];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);
  __syncthreads();  // the code table
  load_global(0);
  for (long long k0 = 0; k0 < K; k0 += TBK) {
    __syncthreads();
    store_shared(k0);
    __syncthreads();
    if (k0 + TBK < K) load_global(k0 + TBK);
    using BLayout = typename std::conditional<BRow, wmma::row_major, wmma::col_major>::type;
#pragma unroll
    for (int ks = 0; ks < TBK; ks += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, E, wmma::row_major> fa[4];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, E, BLayout> fb[2];
#pragma unroll
      for (int i = 0; i < 4; i++) wmma::load_matrix_sync(fa[i], &As[wm * 64 + i * 16][ks], TBK + PAD);
#pragma unroll
      for (int j = 0; j < 2; j++) {
        if (BRow)
          wmma::load_matrix_sync(fb[j], reinterpret_cast<const E*>(Bs) + ks * (TBN + PAD) + wn * 32 + j * 16,
                                 TBN + PAD);
        else
          wmma::load_matrix_sync(fb[j], reinterpret_cast<const E*>(Bs) + (wn * 32 + j * 16) * (TBK + PAD) + ks,
                                 TBK + PAD);
      }
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
  }
  // epilogue through a per-warp 16×16 staging tile: alpha, beta and the edges
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 2; j++) {
      wmma::store_matrix_sync(stage[warp], acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        long long m = m0 + wm * 64 + i * 16 + e / 16, n = n0 + wn * 32 + j * 16 + e % 16;
        if (m < M && n < N) {
          float v = alpha * stage[warp][e];
          long long c = m * C.ld + n;
          st(C.p, C.t, c, beta == 0.0f ? v : v + beta * ld(C.p, C.t, c));
        }
      }
      __syncwarp();
    }
}
}  // namespace tc

__global__ void absmax_k(NF4View w, long long n, float* out) { PLF_GRID_STRIDE(b, n) out[b] = nf4_absmax(w, b); }

}  // namespace cuda
}  // namespace plf
