// The GEMM of the linear layers on CUDA: a tiled f32 kernel (64×64 tiles, 16-deep k steps, 4×4
// results per thread, f32 accumulation), a tensor-core kernel and cuBLASLt for matmul precision
// bf16/f16, whose B operand is either an f32 matrix with any strides or a weight of any storage
// dtype — NF4 is dequantized as its tile is staged into shared memory, so the weight is read at 4 bits.
// A and C may be f32, bf16 or f16 (16-bit activations in place: no f32 copies); math in f32.
#include "plf/linear.h"
#include "check.cuh"
#include "weight.cuh"
#include "plf/cublaslt.h"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#include <type_traits>
#include "gemm.cuh"

namespace plf {
namespace cuda {

static __device__ float kNF4[16];  // this file's copy of the NF4 code (no relocatable device code)
bool nf4_gemv_ok(const NF4View& w, int64_t K, const float* x);
void convert(DType from, const void* src, DType to, void* dst, int64_t n);

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

// the 16-bit operand type E (__nv_bfloat16 or __half): one value, and two packed into a word
template <typename E>
__device__ inline E to16(float v);
template <>
__device__ inline __nv_bfloat16 to16<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ inline __half to16<__half>(float v) {
  return __float2half_rn(v);
}
template <typename E>
__device__ inline uint32_t to16x2(float a, float b);
template <>
__device__ inline uint32_t to16x2<__nv_bfloat16>(float a, float b) {
  __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&h);
}
template <>
__device__ inline uint32_t to16x2<__half>(float a, float b) {
  __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&h);
}

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

static MatmulPrecision g_precision = MatmulPrecision::Highest;
void set_matmul_precision(MatmulPrecision p) { g_precision = p; }
MatmulPrecision matmul_precision() { return g_precision; }

// cuBLASLt when the machine has it: W in the 16-bit type e (NF4 dequantized, other dtypes converted:
// one pass over W, ~10% of the product's time at 4096 tokens) and A in it — used in place when the
// activations already are (else rounded once) — then one call; C is f32 or e, read (beta) and written
// in place.
static bool gemm_cublaslt(long long M, long long N, long long K, float alpha, StridedA A, const WeightView& w,
                          bool trans, float beta, OutC C, DType e) {
  // cuBLASLt's algorithms may assume 256-byte aligned buffers (its default preference); views at an
  // offset go to our kernel instead (or, for A, are rounded into an aligned copy)
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 255) == 0; };
  if (!aligned(C.p) || (w.dtype == e && !aligned(w.data))) return false;
  if (C.t != DType::F32 && C.t != e) return false;  // cuBLASLt's C/D: f32 or the operands' type
  if (!lt::can_run(M, N, K, trans, C.ld, beta, e, C.t)) return false;
  size_t wn = size_t(w.rows * w.cols);
  const bool a_in_place = A.t == e && aligned(A.p);
  Scratch<uint16_t> w16{w.dtype == e ? 0 : wn}, a16{a_in_place ? 0 : size_t(M * K)};
  const void* wp = w.data;
  if (w.dtype == DType::U8)
    nf4_dequantize(w.nf4, e, w16.get());
  else if (w.dtype != e)
    convert(w.dtype, w.data, e, w16.get(), int64_t(wn));
  if (w.dtype != e) wp = w16.get();
  if (!a_in_place) convert(A.t, A.p, e, a16.get(), M * K);
  return lt::gemm_16(M, N, K, alpha, a_in_place ? A.p : a16.get(), wp, trans, beta, C.p, C.ld, e, C.t);
}

void gemm(long long M, long long N, long long K, float alpha, StridedA A, OperandB B, float beta, OutC C) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // an empty sum: C = beta·C
    if (beta == 0.0f)
      for (long long m = 0; m < M; m++)
        check(cudaMemsetAsync(static_cast<char*>(C.p) + m * C.ld * dtype_size(C.t), 0, size_t(N) * dtype_size(C.t), 0),
              "gemm");
    else if (beta != 1.0f)
      throw std::runtime_error("gemm: an empty sum with beta other than 0 or 1");
    return;
  }
  if (g_precision != MatmulPrecision::Highest && M >= 64 && N >= 64 &&
      K >= 32) {  // the LoRA-rank products stay on the f32 kernel
    const DType e = g_precision == MatmulPrecision::F16 ? DType::F16 : DType::BF16;
    if (B.weight && A.cs == 1 && A.rs == K && gemm_cublaslt(M, N, K, alpha, A, B.w.w, B.trans, beta, C, e)) return;
    dim3 grid(unsigned((N + tc::TBN - 1) / tc::TBN), unsigned((M + tc::TBM - 1) / tc::TBM));
    if (grid.y > 65535) throw std::runtime_error("linear (CUDA): more than 8 Mi rows in one call");
    tc::Fast fast;
    // a row-major A is read 16 bytes at a time in the 16-bit type: in place when it already is,
    // else rounded to it once (not once per column tile)
    fast.a = A.cs == 1 && A.rs == K && K % 8 == 0;
    const bool a_in_place = fast.a && A.t == e && (reinterpret_cast<uintptr_t>(A.p) & 15) == 0;
    Scratch<uint16_t> a16{fast.a && !a_in_place ? size_t(M * K) : 0};
    if (fast.a && !a_in_place) convert(A.t, A.p, e, a16.get(), M * K);
    fast.a16 = a_in_place ? A.p : a16.get();
    const NF4View& q = B.w.w.nf4;
    bool nf4 = B.weight && B.w.w.dtype == DType::U8 && B.w.w.cols % 8 == 0 && q.blocksize % 8 == 0 &&
               (reinterpret_cast<uintptr_t>(q.packed) & 3) == 0;
    // rows of the B tile are k (row-major Bs) when B is contiguous along n: dy·W, or a matrix B with n stride 1
    bool brow = B.weight ? !B.trans : B.cs == 1;
    fast.nf4 = nf4 && (brow ? N % 8 == 0 : K % 8 == 0);
    // double quantization's absmax (code byte → nested code → nested absmax) resolved once per call
    long long nblocks = fast.nf4 ? (q.numel + q.blocksize - 1) / q.blocksize : 0;
    Scratch<float> am{size_t(nblocks)};
    if (nblocks) absmax_k<<<blocks_for(nblocks, 256), 256>>>(q, nblocks, am.get());
    fast.am = am.get();
    if (e == DType::F16) {
      if (brow)
        tc::gemm_tc_k<__half, true><<<grid, tc::kT>>>(M, N, K, alpha, A, B, beta, C, fast);
      else
        tc::gemm_tc_k<__half, false><<<grid, tc::kT>>>(M, N, K, alpha, A, B, beta, C, fast);
    } else {
      if (brow)
        tc::gemm_tc_k<__nv_bfloat16, true><<<grid, tc::kT>>>(M, N, K, alpha, A, B, beta, C, fast);
      else
        tc::gemm_tc_k<__nv_bfloat16, false><<<grid, tc::kT>>>(M, N, K, alpha, A, B, beta, C, fast);
    }
    check_launch("gemm (tensor cores)");
    return;
  }
  dim3 grid(unsigned((N + BN - 1) / BN), unsigned((M + BM - 1) / BM));
  if (grid.y > 65535) throw std::runtime_error("linear (CUDA): more than 4 Mi rows in one call");
  gemm_k<<<grid, kThreads>>>(M, N, K, alpha, A, B, beta, C);
  check_launch("gemm");
}

void upload_nf4_code() {
  static bool ready = false;
  if (!ready) {
    check(cudaMemcpyToSymbol(kNF4, NF4_CODE, sizeof(float) * 16), "linear: upload NF4 code");
    ready = true;
  }
}

}  // namespace cuda
}  // namespace plf
