// Cross-entropy and BCE device code (loss.cu launches it): one block of kLossT threads per row for
// cross-entropy, one thread per element for BCE; per-row terms in double. Device code only, so the CPU
// emulator (test/cuda-emu) compiles it too; the includer provides warp_sum and PLF_GRID_STRIDE.
#pragma once
#include "plf/act.h"

namespace plf {
namespace cuda {

constexpr int kLossT = 256;

__device__ inline double block_sum_d(double v) {
  __shared__ double part[kLossT / 32];
  v = warp_sum(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  double s = 0.0;
  for (int i = 0; i < kLossT / 32; i++) s += part[i];
  return s;
}
__device__ inline float block_max(float v) {
  __shared__ float part[kLossT / 32];
  v = warp_max(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  float m = part[0];
  for (int i = 1; i < kLossT / 32; i++) m = fmaxf(m, part[i]);
  return m;
}
// log-sum-exp of row x [n] (logits of dtype T, read in place)
template <DType T>
__device__ inline double row_lse(const void* x, long long r0, long long n) {
  float mx = -INFINITY;
  for (long long i = threadIdx.x; i < n; i += kLossT) mx = fmaxf(mx, ld<T>(x, r0 + i));
  mx = block_max(mx);
  double s = 0.0;
  for (long long i = threadIdx.x; i < n; i += kLossT) s += exp(double(ld<T>(x, r0 + i)) - mx);
  return double(mx) + log(block_sum_d(s));
}

template <DType T>
__global__ void ce_fwd_k(const void* logits, const int64_t* targets, long long vocab, long long ignore, double* term) {
  long long r = blockIdx.x;
  if (targets[r] == ignore) {
    if (threadIdx.x == 0) term[r] = 0.0;
    return;
  }
  double lse = row_lse<T>(logits, r * vocab, vocab);
  if (threadIdx.x == 0) term[r] = lse - ld<T>(logits, r * vocab + targets[r]);
}

template <DType T>
__global__ void ce_bwd_k(const void* logits, const int64_t* targets, long long vocab, long long ignore, double k,
                         void* d) {
  long long r = blockIdx.x, r0 = r * vocab;
  if (targets[r] == ignore) {
    for (long long i = threadIdx.x; i < vocab; i += kLossT) st<T>(d, r0 + i, 0.0f);
    return;
  }
  double lse = row_lse<T>(logits, r0, vocab);
  for (long long i = threadIdx.x; i < vocab; i += kLossT) {
    float v = float(exp(double(ld<T>(logits, r0 + i)) - lse) * k);
    st<T>(d, r0 + i, i == targets[r] ? v - float(k) : v);
  }
}

__global__ void bce_fwd_k(const float* x, const float* y, long long n, double* term) {
  PLF_GRID_STRIDE(i, n) {
    double v = x[i];
    term[i] = fmax(v, 0.0) - v * y[i] + log1p(exp(-fabs(v)));
  }
}
__global__ void bce_bwd_k(const float* x, const float* y, long long n, double k, float* dx) {
  PLF_GRID_STRIDE(i, n) dx[i] = float((1.0 / (1.0 + exp(-double(x[i]))) - y[i]) * k);
}

// the first maximum of each row (one block per row): each thread scans its columns in order, then
// pairs are merged by value, ties to the lower index; NaN is skipped, as a scan comparing x > best
// never moves to it — unless it is column 0, where such a scan stays
template <DType T>
__global__ void argmax_k(const void* x, long long vocab, int64_t* out) {
  __shared__ float val[kLossT];
  __shared__ long long idx[kLossT];
  const long long r0 = (long long)blockIdx.x * vocab;
  float bv = -INFINITY;
  long long bi = -1;
  for (long long i = threadIdx.x; i < vocab; i += kLossT) {
    float v = ld<T>(x, r0 + i);
    if (v == v && (bi < 0 || v > bv)) bv = v, bi = i;
  }
  val[threadIdx.x] = bv;
  idx[threadIdx.x] = bi;
  __syncthreads();
  for (int s = kLossT / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      float ov = val[threadIdx.x + s];
      long long oi = idx[threadIdx.x + s];
      long long mi = idx[threadIdx.x];
      if (oi >= 0 && (mi < 0 || ov > val[threadIdx.x] || (ov == val[threadIdx.x] && oi < mi)))
        val[threadIdx.x] = ov, idx[threadIdx.x] = oi;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    float x0 = ld<T>(x, r0);
    out[blockIdx.x] = x0 != x0 || idx[0] < 0 ? 0 : idx[0];
  }
}

}  // namespace cuda
}  // namespace plf
