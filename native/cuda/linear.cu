// The linear layers on CUDA: a tiled f32 GEMM (64×64 tiles, 16-deep k steps, 4×4 results per
// thread, f32 accumulation) whose B operand is either an f32 matrix with any strides or a weight
// of any storage dtype — NF4 is dequantized as its tile is staged into shared memory, so the
// weight is read at 4 bits. linear/lora forward and backward compose it as native/cpu/linear.cpp.
#include "plf/linear.h"
#include "check.cuh"
#include "weight.cuh"

namespace plf {
namespace cuda {

static __device__ float kNF4[16];  // this file's copy of the NF4 code (no relocatable device code)
bool nf4_gemv_ok(const NF4View& w, int64_t K, const float* x);

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, kThreads = (BM / TM) * (BN / TN);

struct StridedA { const float* p; long long rs, cs; };
// B(k, n): an f32 matrix (p, strides) or a weight: trans → W[n][k], else W[k][n]
struct OperandB {
  const float* p; long long rs, cs;
  DeviceWeight w; bool weight, trans;
  __device__ inline float at(long long k, long long n, const float* code) const {
    if (!weight) return p[k * rs + n * cs];
    return trans ? w.at(n, k, code) : w.at(k, n, code);
  }
};

// C[M,N] = alpha·A·B + beta·C (ldc); beta = 0 never reads C
__global__ void __launch_bounds__(kThreads) gemm_k(long long M, long long N, long long K, float alpha, StridedA A, OperandB B,
                                                   float beta, float* C, long long ldc) {
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
      As[kk][mm] = m < M && k < K ? A.p[m * A.rs + k * A.cs] : 0.0f;
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
      if (m < M && n < N) C[m * ldc + n] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * C[m * ldc + n];
    }
}

static void gemm(long long M, long long N, long long K, float alpha, StridedA A, OperandB B, float beta, float* C, long long ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // an empty sum: C = beta·C
    if (beta == 0.0f)
      for (long long m = 0; m < M; m++) check(cudaMemset(C + m * ldc, 0, size_t(N) * sizeof(float)), "gemm");
    return;
  }
  dim3 grid(unsigned((N + BN - 1) / BN), unsigned((M + BM - 1) / BM));
  if (grid.y > 65535) throw std::runtime_error("linear (CUDA): more than 4 Mi rows in one call");
  gemm_k<<<grid, kThreads>>>(M, N, K, alpha, A, B, beta, C, ldc);
  check_launch("gemm");
}

static OperandB mat(const float* p, long long rs, long long cs) { OperandB b{}; b.p = p; b.rs = rs; b.cs = cs; return b; }
static OperandB weight(const WeightView& w, bool trans) { OperandB b{}; b.w = DeviceWeight{w}; b.weight = true; b.trans = trans; return b; }

__global__ void add_bias_k(float* y, const float* bias, long long M, long long N) {
  PLF_GRID_STRIDE(i, M * N) y[i] += bias[i % N];
}
__global__ void bias_grad_k(const float* dy, long long M, long long N, float* db, bool acc) {
  PLF_GRID_STRIDE(n, N) {
    double s = 0.0;
    for (long long m = 0; m < M; m++) s += dy[m * N + n];
    db[n] = acc ? db[n] + float(s) : float(s);
  }
}
__global__ void dropout_k(const float* x, long long n, float p, unsigned long long seed, float* out) {
  PLF_GRID_STRIDE(i, n) out[i] = x[i] * dropout_keep_scale(seed, i, p);
}
__global__ void add_dropped_k(float* dx, const float* t, long long n, float p, unsigned long long seed) {
  PLF_GRID_STRIDE(i, n) dx[i] += t[i] * dropout_keep_scale(seed, i, p);
}

static void upload_nf4_code() {  // NOLINT: per translation unit
  static bool ready = false;
  if (!ready) { check(cudaMemcpyToSymbol(kNF4, NF4_CODE, sizeof(float) * 16), "linear: upload NF4 code"); ready = true; }
}

void linear_forward(const float* x, int64_t M, int64_t K, const WeightView& w, const float* bias, float* y) {
  upload_nf4_code();
  int64_t N = w.rows;
  if (M == 1 && w.dtype == DType::U8 && nf4_gemv_ok(w.nf4, K, x)) {  // decoding: memory-bound, read W once
    nf4_gemv(x, w.nf4, N, K, bias, y);
    return;
  }
  gemm(M, N, K, 1.0f, StridedA{x, K, 1}, weight(w, true), 0.0f, y, N);
  if (bias && M * N) add_bias_k<<<blocks_for(M * N, 256), 256>>>(y, bias, M, N);
  check_launch("linear_forward");
}

void linear_backward(const float* dy, const float* x, int64_t M, int64_t K, const WeightView& w, float* dx,
                     float* dw, float* dbias, bool accumulate) {
  upload_nf4_code();
  int64_t N = w.rows;
  if (dx) gemm(M, K, N, 1.0f, StridedA{dy, N, 1}, weight(w, false), 0.0f, dx, K);           // dx = dy·W
  if (dw) gemm(N, K, M, 1.0f, StridedA{dy, 1, N}, mat(x, K, 1), accumulate ? 1.0f : 0.0f, dw, K);  // dW = dyᵀ·x
  if (dbias && N) bias_grad_k<<<blocks_for(N, 128), 128>>>(dy, M, N, dbias, accumulate);
  check_launch("linear_backward");
}

void lora_linear_forward(const float* x, int64_t M, int64_t K, const WeightView& w, const float* bias,
                         const float* a, const float* b, int64_t r, float scale, float p, uint64_t seed, float* y,
                         float* xa) {
  int64_t N = w.rows;
  Scratch<float> xd(p > 0.0f ? size_t(M * K) : 0);
  const float* xin = x;
  if (p > 0.0f && M * K) {
    dropout_k<<<blocks_for(M * K, 256), 256>>>(x, M * K, p, seed, xd.get());
    xin = xd.get();
  }
  gemm(M, r, K, 1.0f, StridedA{xin, K, 1}, mat(a, 1, K), 0.0f, xa, r);   // xa = dropout(x)·Aᵀ
  linear_forward(x, M, K, w, bias, y);
  gemm(M, N, r, scale, StridedA{xa, r, 1}, mat(b, 1, r), 1.0f, y, N);    // y += s·xa·Bᵀ
}

void lora_linear_backward(const float* dy, const float* x, int64_t M, int64_t K, const WeightView& w,
                          const float* a, const float* b, int64_t r, float scale, float p, uint64_t seed,
                          const float* xa, float* dx, float* da, float* db, bool accumulate) {
  int64_t N = w.rows;
  float beta = accumulate ? 1.0f : 0.0f;
  Scratch<float> dxa{size_t(M * r)};
  gemm(M, r, N, scale, StridedA{dy, N, 1}, mat(b, r, 1), 0.0f, dxa.get(), r);          // dxa = s·dy·B
  if (db) gemm(N, r, M, scale, StridedA{dy, 1, N}, mat(xa, r, 1), beta, db, r);        // dB = s·dyᵀ·xa
  Scratch<float> xd(p > 0.0f && da ? size_t(M * K) : 0);
  const float* xin = x;
  if (p > 0.0f && da && M * K) {
    dropout_k<<<blocks_for(M * K, 256), 256>>>(x, M * K, p, seed, xd.get());
    xin = xd.get();
  }
  if (da) gemm(r, K, M, 1.0f, StridedA{dxa.get(), 1, r}, mat(xin, K, 1), beta, da, K);  // dA = dxaᵀ·dropout(x)
  if (!dx) return;
  linear_backward(dy, x, M, K, w, dx, nullptr, nullptr, false);
  if (p <= 0.0f) {
    gemm(M, K, r, 1.0f, StridedA{dxa.get(), r, 1}, mat(a, K, 1), 1.0f, dx, K);         // dx += dxa·A
    return;
  }
  Scratch<float> t{size_t(M * K)};
  gemm(M, K, r, 1.0f, StridedA{dxa.get(), r, 1}, mat(a, K, 1), 0.0f, t.get(), K);
  if (M * K) add_dropped_k<<<blocks_for(M * K, 256), 256>>>(dx, t.get(), M * K, p, seed);
  check_launch("lora_linear_backward");
}

}  // namespace cuda
}  // namespace plf
