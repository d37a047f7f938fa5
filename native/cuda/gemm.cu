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
}  // namespace cuda
}  // namespace plf
#include "gemm_kernels.cuh"

namespace plf {
namespace cuda {
void convert(DType from, const void* src, DType to, void* dst, int64_t n);

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
    if (nblocks) absmax_k<<<blocks_for(nblocks, 256), 256, 0, stream()>>>(q, nblocks, am.get());
    fast.am = am.get();
    if (e == DType::F16) {
      if (brow)
        tc::gemm_tc_k<__half, true><<<grid, tc::kT, 0, stream()>>>(M, N, K, alpha, A, B, beta, C, fast);
      else
        tc::gemm_tc_k<__half, false><<<grid, tc::kT, 0, stream()>>>(M, N, K, alpha, A, B, beta, C, fast);
    } else {
      if (brow)
        tc::gemm_tc_k<__nv_bfloat16, true><<<grid, tc::kT, 0, stream()>>>(M, N, K, alpha, A, B, beta, C, fast);
      else
        tc::gemm_tc_k<__nv_bfloat16, false><<<grid, tc::kT, 0, stream()>>>(M, N, K, alpha, A, B, beta, C, fast);
    }
    check_launch("gemm (tensor cores)");
    return;
  }
  dim3 grid(unsigned((N + BN - 1) / BN), unsigned((M + BM - 1) / BM));
  if (grid.y > 65535) throw std::runtime_error("linear (CUDA): more than 4 Mi rows in one call");
  gemm_k<<<grid, kThreads, 0, stream()>>>(M, N, K, alpha, A, B, beta, C);
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
