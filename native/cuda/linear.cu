// The linear and LoRA ops on CUDA, forward and backward, composed from gemm.cu's GEMM as
// native/cpu/linear.cpp composes its own; the GEMV for decoding and the LoRA rank kernels (lora.cuh).
// 16-bit activations are read and written in place (no f32 copies).
#include "plf/linear.h"
#include "gemm.cuh"
#include "check.cuh"
#include "weight.cuh"
#include "plf/cublaslt.h"
#include "lora.cuh"
#include "gemv.cuh"
#include "act.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace plf {
namespace cuda {
void convert(DType from, const void* src, DType to, void* dst, int64_t n);

// The activations (x, y, dy, dx) are f32, bf16 or f16, all of one dtype per call (see Op::acts), read
// and written in place; the LoRA factors, xa/dxa and the weight grads are f32.
template <DType T>
__global__ void add_bias_k(void* y, const float* bias, long long M, long long N) {
  PLF_GRID_STRIDE(i, M * N) st<T>(y, i, ld<T>(y, i) + bias[i % N]);
}
__global__ void bias_grad_k(CAct dy, long long M, long long N, float* db, bool acc) {
  PLF_GRID_STRIDE(n, N) {
    double s = 0.0;
    for (long long m = 0; m < M; m++) s += ld(dy.p, dy.t, m * N + n);
    db[n] = acc ? db[n] + float(s) : float(s);
  }
}
__global__ void dropout_k(CAct x, long long n, float p, unsigned long long seed, float* out) {
  PLF_GRID_STRIDE(i, n) out[i] = ld(x.p, x.t, i) * dropout_keep_scale(seed, i, p);
}
__global__ void add_dropped_k(Act dx, const float* t, long long n, float p, unsigned long long seed) {
  PLF_GRID_STRIDE(i, n) st(dx.p, dx.t, i, ld(dx.p, dx.t, i) + t[i] * dropout_keep_scale(seed, i, p));
}

// a few rows of x against an f32/bf16/f16 weight (decoding, the LM head): W read once
static void dense_gemv(CAct x, long long M, long long K, const WeightView& w, const float* bias, Act y, bool acc) {
  long long N = w.rows;
  int V = w.dtype == DType::F32 ? 4 : 8;
  auto a16 = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  bool vec = K % V == 0 && a16(w.data) && (x.t != DType::F32 || a16(x.p));  // 16-bit x is read element-wise
  unsigned grid = blocks_for(N * 32, 256);
  by_dtype(x.t, [&](auto tx) {
    constexpr DType TX = PLF_DT(tx);
    if (w.dtype == DType::F32)
      dense_gemv_k<DType::F32, TX><<<grid, 256, 0, stream()>>>(x.p, M, K, w.data, N, bias, y.p, vec, acc);
    else if (w.dtype == DType::BF16)
      dense_gemv_k<DType::BF16, TX><<<grid, 256, 0, stream()>>>(x.p, M, K, w.data, N, bias, y.p, vec, acc);
    else
      dense_gemv_k<DType::F16, TX><<<grid, 256, 0, stream()>>>(x.p, M, K, w.data, N, bias, y.p, vec, acc);
  });
  check_launch("linear_forward (gemv)");
}

// accumulate: y += x·Wᵀ + bias, the residual read in the GEMV's or the GEMM's epilogue (beta = 1)
void linear_forward(CAct x, int64_t M, int64_t K, const WeightView& w, const float* bias, Act y, bool accumulate) {
  upload_nf4_code();
  int64_t N = w.rows;
  if (M > 0 && M <= kGemvRows && N > 0 && w.dtype != DType::U8) {
    dense_gemv(x, M, K, w, bias, y, accumulate);
    return;
  }
  if (M > 0 && M <= kNF4GemvRows && w.dtype == DType::U8 && nf4_gemv_ok(w.nf4, K, x.p)) {
    nf4_gemv(x, w.nf4, N, K, bias, y, accumulate, {}, M);  // decoding (a batch too): memory-bound, W read once
    return;
  }
  gemm(M, N, K, 1.0f, StridedA{x, K, 1}, weight(w, true), accumulate ? 1.0f : 0.0f, OutC{y, N});
  if (bias && M * N)
    by_dtype(y.t,
             [&](auto t) { add_bias_k<PLF_DT(t)><<<blocks_for(M * N, 256), 256, 0, stream()>>>(y.p, bias, M, N); });
  check_launch("linear_forward");
}

void linear_backward(CAct dy, CAct x, int64_t M, int64_t K, const WeightView& w, Act dx, float* dw, float* dbias,
                     bool accumulate) {
  upload_nf4_code();
  int64_t N = w.rows;
  if (dx.p) gemm(M, K, N, 1.0f, StridedA{dy, N, 1}, weight(w, false), 0.0f, OutC{dx, K});                // dx = dy·W
  if (dw) gemm(N, K, M, 1.0f, StridedA{dy, 1, N}, mat(x, K, 1), accumulate ? 1.0f : 0.0f, OutC{dw, K});  // dW = dyᵀ·x
  if (dbias && N) bias_grad_k<<<blocks_for(N, 128), 128, 0, stream()>>>(dy, M, N, dbias, accumulate);
  check_launch("linear_backward");
}

// f(integral_constant<int, RM>) for the smallest rank bucket RM in {16, 32, 64} that holds r
template <typename F>
static void by_rank(int r, F&& f) {
  if (r <= 16)
    f(std::integral_constant<int, 16>{});
  else if (r <= 32)
    f(std::integral_constant<int, 32>{});
  else
    f(std::integral_constant<int, 64>{});
}

// out [M, r] = alpha·drop(A)[M,K]·Sᵀ (+ beta·out): xa = dropout(x)·Aᵀ and dxa = s·dy·B
static void lora_rows(long long M, long long K, int r, float alpha, CAct A, const float* S, long long srs,
                      long long scs, float beta, float* out, float p = 0.0f, uint64_t seed = 0) {
  if (M <= 0) return;
  by_rank(r, [&](auto rm) {
    by_dtype(A.t, [&](auto t) {
      rank_rows_k<decltype(rm)::value, PLF_DT(t)>
          <<<blocks_for(M * 32, 256), 256, 0, stream()>>>(M, K, r, alpha, A.p, S, srs, scs, beta, out, p, seed);
    });
  });
  check_launch("lora rank product");
}
// out(n, j) = alpha·Σ_m drop(P)[m][n]·Q[m][j] (+ out when accumulating): dB = s·dyᵀ·xa and dA = dxaᵀ·dropout(x)
static void lora_cols(long long M, long long N, int r, float alpha, CAct P, const float* Q, float* o, long long ons,
                      long long ojs, bool accumulate, float p = 0.0f, uint64_t seed = 0) {
  if (!accumulate) check(cudaMemsetAsync(o, 0, size_t(N * r) * sizeof(float), stream()), "lora rank product");
  if (M <= 0 || N <= 0) return;
  const long long chunk = 128;
  dim3 grid(unsigned((N + 127) / 128), unsigned((M + chunk - 1) / chunk));
  by_rank(r, [&](auto rm) {
    by_dtype(P.t, [&](auto t) {
      rank_cols_k<decltype(rm)::value, PLF_DT(t)>
          <<<grid, 128, 0, stream()>>>(M, N, r, alpha, P.p, Q, chunk, o, ons, ojs, p, seed);
    });
  });
  check_launch("lora rank product");
}
// out [M, C] += alpha·drop(L[M,r]·R) with R(j, c) = R[j·rrs + c·rcs]: y += s·xa·Bᵀ and dx += dropout'(dxa·A)
static void lora_expand(long long M, long long C, int r, float alpha, const float* L, const float* R, long long rrs,
                        long long rcs, float p, uint64_t seed, Act out) {
  if (M <= 0 || C <= 0) return;
  dim3 grid(unsigned((C + XC - 1) / XC), unsigned((M + XM - 1) / XM)), block(XC, 4);
  if (grid.y > 65535) throw std::runtime_error("lora (CUDA): more than 2 Mi rows in one call");
  by_rank(r, [&](auto rm) {
    by_dtype(out.t, [&](auto t) {
      rank_expand_k<decltype(rm)::value, PLF_DT(t)>
          <<<grid, block, 0, stream()>>>(M, C, r, alpha, L, R, rrs, rcs, p, seed, out.p);
    });
  });
  check_launch("lora rank product");
}

void lora_xa(CAct x, int64_t M, int64_t K, const float* const* as, const int64_t* rs, float* const* outs, int n) {
  if (n < 1 || n > 3 || M < 1 || M > kRankGemvRows) throw std::runtime_error("lora_xa: 1 to 3 adapters, 1 to 8 rows");
  RankSegs segs;
  segs.n = n;
  long long blocks = 0;
  bool vec = K % 4 == 0;
  for (int i = 0; i < n; i++) {
    segs.s[i] = RankSeg{as[i], outs[i], int(rs[i])};
    blocks += rs[i];
    vec = vec && (reinterpret_cast<uintptr_t>(as[i]) & 15) == 0;
  }
  if (blocks)
    by_dtype(x.t, [&](auto t) {
      rank_gemv_k<PLF_DT(t)><<<unsigned(blocks), kRankGemvThreads, 0, stream()>>>(x.p, M, K, segs, vec);
    });
  check_launch("lora rank product");
}

void lora_linear_forward(CAct x, int64_t M, int64_t K, const WeightView& w, const float* bias, const float* a,
                         const float* b, int64_t r, float scale, float p, uint64_t seed, Act y, float* xa,
                         bool accumulate) {
  int64_t N = w.rows;
  if (r <= 64) {                                   // the dropout mask is applied as x is read: no dropout(x) copy
    if (M <= kRankGemvRows && p == 0.0f && r > 0)  // decoding: the rank product over many blocks
      lora_xa(x, M, K, &a, &r, &xa, 1);
    else
      lora_rows(M, K, int(r), 1.0f, x, a, K, 1, 0.0f, xa, p, seed);  // xa = dropout(x)·Aᵀ
    if (M > 0 && M <= kNF4GemvRows && r > 0 && w.dtype == DType::U8 && nf4_gemv_ok(w.nf4, K, x.p)) {
      nf4_gemv(x, w.nf4, N, K, bias, y, accumulate, GemvLora{a, b, xa, r, scale}, M);  // + s·xa·Bᵀ in its epilogue
      return;
    }
    linear_forward(x, M, K, w, bias, y, accumulate);
    lora_expand(M, N, int(r), scale, xa, b, 1, r, 0.0f, 0, y);  // y += s·xa·Bᵀ
    return;
  }
  Scratch<float> xd(p > 0.0f ? size_t(M * K) : 0);
  StridedA xin{x, K, 1};
  if (p > 0.0f && M * K) {
    dropout_k<<<blocks_for(M * K, 256), 256, 0, stream()>>>(x, M * K, p, seed, xd.get());
    xin = StridedA{xd.get(), K, 1};
  }
  gemm(M, r, K, 1.0f, xin, mat(a, 1, K), 0.0f, OutC{xa, r});
  linear_forward(x, M, K, w, bias, y, accumulate);
  gemm(M, N, r, scale, StridedA{xa, r, 1}, mat(b, 1, r), 1.0f, OutC{y, N});  // y += s·xa·Bᵀ
}

void lora_linear_backward(CAct dy, CAct x, int64_t M, int64_t K, const WeightView& w, const float* a, const float* b,
                          int64_t r, float scale, float p, uint64_t seed, const float* xa, Act dx, float* da, float* db,
                          bool accumulate) {
  int64_t N = w.rows;
  float beta = accumulate ? 1.0f : 0.0f;
  Scratch<float> dxa{size_t(M * r)};
  const bool rank = r <= 64;
  if (rank)
    lora_rows(M, N, int(r), scale, dy, b, 1, r, 0.0f, dxa.get());  // dxa = s·dy·B
  else
    gemm(M, r, N, scale, StridedA{dy, N, 1}, mat(b, r, 1), 0.0f, OutC{dxa.get(), r});
  if (db && rank)
    lora_cols(M, N, int(r), scale, dy, xa, db, r, 1, accumulate);  // dB = s·dyᵀ·xa
  else if (db)
    gemm(N, r, M, scale, StridedA{dy, 1, N}, mat(xa, r, 1), beta, OutC{db, r});
  if (rank) {  // dropout applied as x is read, and to dxa·A as it is added into dx: no full-size temporaries
    if (da) lora_cols(M, K, int(r), 1.0f, x, dxa.get(), da, 1, K, accumulate, p, seed);  // dA = dxaᵀ·dropout(x)
    if (!dx.p) return;
    linear_backward(dy, x, M, K, w, dx, nullptr, nullptr, false);
    lora_expand(M, K, int(r), 1.0f, dxa.get(), a, K, 1, p, seed, dx);  // dx += dropout'(dxa·A)
    return;
  }
  Scratch<float> xd(p > 0.0f && da ? size_t(M * K) : 0);
  StridedA xin{x, K, 1};
  if (p > 0.0f && da && M * K) {
    dropout_k<<<blocks_for(M * K, 256), 256, 0, stream()>>>(x, M * K, p, seed, xd.get());
    xin = StridedA{xd.get(), K, 1};
  }
  if (da) gemm(r, K, M, 1.0f, StridedA{dxa.get(), 1, r}, mat(xin.p, K, 1, xin.t), beta, OutC{da, K});
  if (!dx.p) return;
  linear_backward(dy, x, M, K, w, dx, nullptr, nullptr, false);
  if (p <= 0.0f) {
    gemm(M, K, r, 1.0f, StridedA{dxa.get(), r, 1}, mat(a, K, 1), 1.0f, OutC{dx, K});  // dx += dxa·A
    return;
  }
  Scratch<float> t{size_t(M * K)};
  gemm(M, K, r, 1.0f, StridedA{dxa.get(), r, 1}, mat(a, K, 1), 0.0f, OutC{t.get(), K});
  if (M * K) add_dropped_k<<<blocks_for(M * K, 256), 256, 0, stream()>>>(dx, t.get(), M * K, p, seed);
  check_launch("lora_linear_backward");
}

}  // namespace cuda
}  // namespace plf
