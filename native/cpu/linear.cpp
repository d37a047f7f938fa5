// linear and lora_linear, forward and backward, on the CPU (all matmuls go through gemm.cpp).
#include "plf/linear.h"
#include <vector>

namespace plf {
namespace cpu {

static void add_bias(float* y, const float* bias, int64_t M, int64_t N) {
  if (!bias) return;
#pragma omp parallel for schedule(static) if (M * N > 65536)
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) y[m * N + n] += bias[n];
}

void linear_forward(const float* x, int64_t M, int64_t K, const WeightView& w, const float* bias, float* y,
                    bool accumulate) {
  int64_t N = w.rows;
  sgemm_w(M, N, K, 1.0f, x, K, 1, w, true, accumulate ? 1.0f : 0.0f, y, N);
  add_bias(y, bias, M, N);
}

static void bias_grad(const float* dy, int64_t M, int64_t N, float* dbias, bool accumulate) {
#pragma omp parallel for schedule(static) if (M * N > 65536)
  for (int64_t n = 0; n < N; n++) {
    float s = 0.0f;
    for (int64_t m = 0; m < M; m++) s += dy[m * N + n];
    dbias[n] = accumulate ? dbias[n] + s : s;
  }
}

void linear_backward(const float* dy, const float* x, int64_t M, int64_t K, const WeightView& w, float* dx, float* dw,
                     float* dbias, bool accumulate) {
  int64_t N = w.rows;
  if (dx) sgemm_w(M, K, N, 1.0f, dy, N, 1, w, false, 0.0f, dx, K);
  if (dw) sgemm(N, K, M, 1.0f, dy, 1, N, x, K, 1, accumulate ? 1.0f : 0.0f, dw, K);
  if (dbias) bias_grad(dy, M, N, dbias, accumulate);
}

static std::vector<float> dropout_copy(const float* x, int64_t n, float p, uint64_t seed) {
  std::vector<float> out(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) out[i] = x[i] * dropout_keep_scale(seed, i, p);
  return out;
}

void lora_linear_forward(const float* x, int64_t M, int64_t K, const WeightView& w, const float* bias, const float* a,
                         const float* b, int64_t r, float scale, float p, uint64_t seed, float* y, float* xa,
                         bool accumulate) {
  int64_t N = w.rows;
  std::vector<float> xd;
  const float* xin = x;
  if (p > 0.0f) {
    xd = dropout_copy(x, M * K, p, seed);
    xin = xd.data();
  }
  sgemm(M, r, K, 1.0f, xin, K, 1, a, 1, K, 0.0f, xa, r);  // xa = dropout(x)·Aᵀ  [M, r]
  linear_forward(x, M, K, w, bias, y, accumulate);
  sgemm(M, N, r, scale, xa, r, 1, b, 1, r, 1.0f, y, N);  // y += s·xa·Bᵀ
}

void lora_linear_backward(const float* dy, const float* x, int64_t M, int64_t K, const WeightView& w, const float* a,
                          const float* b, int64_t r, float scale, float p, uint64_t seed, const float* xa, float* dx,
                          float* da, float* db, bool accumulate) {
  int64_t N = w.rows;
  float beta = accumulate ? 1.0f : 0.0f;
  std::vector<float> dxa(static_cast<size_t>(M * r));
  sgemm(M, r, N, scale, dy, N, 1, b, r, 1, 0.0f, dxa.data(), r);   // dxa = s·dy·B  [M, r]
  if (db) sgemm(N, r, M, scale, dy, 1, N, xa, r, 1, beta, db, r);  // dB = s·dyᵀ·xa [N, r]
  std::vector<float> xd;
  const float* xin = x;
  if (p > 0.0f) {
    xd = dropout_copy(x, M * K, p, seed);
    xin = xd.data();
  }
  if (da) sgemm(r, K, M, 1.0f, dxa.data(), 1, r, xin, K, 1, beta, da, K);  // dA = dxaᵀ·dropout(x)
  if (!dx) return;
  linear_backward(dy, x, M, K, w, dx, nullptr, nullptr, false);
  if (p <= 0.0f) {
    sgemm(M, K, r, 1.0f, dxa.data(), r, 1, a, K, 1, 1.0f, dx, K);  // dx += dxa·A
    return;
  }
  std::vector<float> t(static_cast<size_t>(M * K));
  sgemm(M, K, r, 1.0f, dxa.data(), r, 1, a, K, 1, 0.0f, t.data(), K);
#pragma omp parallel for schedule(static) if (M * K > 65536)
  for (int64_t i = 0; i < M * K; i++) dx[i] += t[i] * dropout_keep_scale(seed, i, p);
}

}  // namespace cpu
}  // namespace plf
