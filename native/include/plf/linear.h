// Matrix products of the linear layers: y = x·Wᵀ (+ bias) with W in f32/bf16/f16/NF4, and LoRA.
#pragma once
#include "common.h"
#include "nf4.h"
#include "op_decl.h"
#include "act.h"

namespace plf {

// A frozen or trainable weight W [rows, cols] in row-major order, of any storage dtype.
struct WeightView {
  DType dtype = DType::F32;  // F32, F16, BF16, or U8 meaning NF4 (see nf4)
  const void* data = nullptr;
  NF4View nf4;
  int64_t rows = 0, cols = 0;
  // Row `r`, columns [c0, c0+len) as f32.
  void load_row(int64_t r, int64_t c0, int64_t len, float* out) const;
};

// splitmix64: a counter-based hash, so the dropout mask is recomputed in backward instead of stored.
PLF_HD inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
// Deterministic dropout mask shared by CPU and CUDA: keep element i iff hash(seed, i) >= p,
// with u = the top 24 bits of the hash / 2^24.
PLF_HD inline float dropout_keep_scale(uint64_t seed, int64_t i, float p) {
  if (p <= 0.0f) return 1.0f;
  uint64_t h = mix64(seed ^ mix64(uint64_t(i)));
  float u = float(h >> 40) * (1.0f / 16777216.0f);
  return u >= p ? 1.0f / (1.0f - p) : 0.0f;
}

// The four linear ops, for both devices (device pointers on CUDA; W of any storage dtype, NF4
// dequantized tile by tile inside the matmul; a CUDA forward of up to 8 rows runs a GEMV).
#define PLF_LINEAR_OPS(X)                                                                                              \
  /* x [M,K], W [N,K] -> y [M,N] (accumulate: y += x·Wᵀ + bias, a residual joined in the epilogue) */               \
  X(void, linear_forward,                                                                                              \
    (ActIn x, int64_t M, int64_t K, const WeightView& w, const float* bias, ActOut y, bool accumulate))                \
  /* dx [M,K] = dy·W; dw [N,K] (+)= dyᵀ·x; dbias [N] (+)= Σ dy. Null outputs are skipped. */                      \
  X(void, linear_backward,                                                                                             \
    (ActIn dy, ActIn x, int64_t M, int64_t K, const WeightView& w, ActOut dx, float* dw, float* dbias,                 \
     bool accumulate))                                                                                                 \
  /* y = x·Wᵀ + bias + s·(dropout(x)·Aᵀ)·Bᵀ. A [r,K], B [N,r]; xa [M,r] (f32) receives dropout(x)·Aᵀ. */  \
  X(void, lora_linear_forward,                                                                                         \
    (ActIn x, int64_t M, int64_t K, const WeightView& w, const float* bias, const float* a, const float* b, int64_t r, \
     float scale, float p, uint64_t seed, ActOut y, float* xa, bool accumulate))                                       \
  X(void, lora_linear_backward,                                                                                        \
    (ActIn dy, ActIn x, int64_t M, int64_t K, const WeightView& w, const float* a, const float* b, int64_t r,          \
     float scale, float p, uint64_t seed, const float* xa, ActOut dx, float* da, float* db, bool accumulate))

}  // namespace plf
PLF_DECLARE_OPS(PLF_LINEAR_OPS)
namespace plf {

namespace cpu {
// C[M,N] = alpha·A·B + beta·C with A[m,k] = a[m*ars + k*acs] and B[k,n] = b[k*brs + n*bcs] (f32).
void sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t ars, int64_t acs, const float* b,
           int64_t brs, int64_t bcs, float beta, float* c, int64_t ldc);
// C[M,N] = alpha·A·op(W) + beta·C where op(W) = Wᵀ (trans=true, N = W.rows, K = W.cols) or W.
void sgemm_w(int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t ars, int64_t acs,
             const WeightView& w, bool trans, float beta, float* c, int64_t ldc);

// Measured FMA peak of this machine (GFLOP/s, all threads) for the widest SIMD the gemm uses.
double fma_peak_gflops(int simd_bits);
const char* simd_name();
}  // namespace cpu

namespace cuda {
// Matmul precision on CUDA: Highest (default) f32 SIMT, equal to the CPU to ~1e-6; BF16 / F16 round
// the operands to bf16 / f16 for tensor cores (f32 accumulation), as torch's
// set_float32_matmul_precision("medium") does with bf16. f16 keeps 3 more mantissa bits, bf16 the range.
enum class MatmulPrecision { Highest = 0, BF16 = 1, F16 = 2 };
void set_matmul_precision(MatmulPrecision p);
MatmulPrecision matmul_precision();
// A LoRA adapter in a decoding GEMV (y = W·x + s·B·(A·x)): A [r, K] and B [N, r] f32, and xa [r] =
// A·x. The GEMV adds s·B·xa in its epilogue, bit for bit the rank-expand pass after the plain GEMV;
// a = nullptr: no adapter. nf4_gemv takes xa computed (lora_linear_forward keeps it for backward);
// nf4_gemv_multi and nf4_gemv_swiglu compute it, all adapters of the call in one launch first.
struct GemvLora {
  const float* a = nullptr;
  const float* b = nullptr;
  float* xa = nullptr;
  int64_t r = 0;
  float scale = 0.0f;
};
// the most rows of x the NF4 decoding GEMVs take (nf4_gemv, nf4_gemv_multi, nf4_gemv_swiglu)
constexpr int kNF4GemvRows = 8;
// y [M, N] = x·Wᵀ for M <= 8 rows x [M, K] (f32, bf16 or f16, y the same) with W NF4 (decoding, one
// row or a batch of them): reads each packed byte once for all rows; lora's xa is [M, r].
void nf4_gemv(CAct x, const NF4View& w, int64_t N, int64_t K, const float* bias, Act y, bool accumulate = false,
              const GemvLora& lora = {}, int64_t M = 1);
// the GEMV's conditions (K in whole absmax blocks of 32-value groups, aligned x and weight)
bool nf4_gemv_ok(const NF4View& w, int64_t K, const void* x);
// up to three such GEMVs over the M <= 8 rows of one x in one launch (q/k/v, gate/up): ys[i]
// [M, Ns[i]] of x's dtype; loras null or one per weight
void nf4_gemv_multi(CAct x, const NF4View* ws, const int64_t* Ns, const float* const* biases, void* const* ys, int n,
                    int64_t K, bool accumulate, const GemvLora* loras = nullptr, int64_t M = 1);
// h [M, N] = silu(Wg·x + LoRA)·(Wu·x + LoRA) for M <= 8 rows, both GEMVs and SwiGLU in one launch,
// bit for bit the three apart
void nf4_gemv_swiglu(CAct x, const NF4View& wg, const NF4View& wu, int64_t N, int64_t K, Act h, const GemvLora& lg = {},
                     const GemvLora& lu = {}, int64_t M = 1);
// xa_i [M, r_i] = x·A_iᵀ for a few rows (M <= 8: decoding) and up to three adapters over one x, one
// launch: a block per output column reads its row of A once (the general rank kernel gives a whole
// row of x to one warp, which leaves the GPU idle at one row)
void lora_xa(CAct x, int64_t M, int64_t K, const float* const* as, const int64_t* rs, float* const* outs, int n);
}  // namespace cuda
}  // namespace plf
