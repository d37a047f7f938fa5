// RMSNorm and LayerNorm device code (norm.cu launches it): one block of kNormT threads per row for
// the statistics and dx, one thread per column for the weight grads. Templated on the activation
// dtype T (x, y, dy, dx read and written in place; weights and statistics f32). Device code only, so the CPU
// emulator (test/cuda-emu) compiles it too; the includer provides warp_sum and PLF_GRID_STRIDE.
#pragma once
#include "plf/act.h"

namespace plf {
namespace cuda {

constexpr int kNormT = 256;

// block-wide sum of a double (kNormT threads)
__device__ inline double block_sum(double v) {
  __shared__ double part[kNormT / 32];
  v = warp_sum(v);
  int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) part[wid] = v;
  __syncthreads();
  double s = 0.0;
  if (threadIdx.x < 32) {
    s = threadIdx.x < kNormT / 32 ? part[threadIdx.x] : 0.0;
    s = warp_sum(s);
    if (threadIdx.x == 0) part[0] = s;
  }
  __syncthreads();
  return part[0];
}

template <DType T>
__global__ void rms_fwd_k(const void* x, const float* w, long long dim, float eps, void* y, float* rstd) {
  const long long r0 = blockIdx.x * dim;
  double ss = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) {
    double v = ld<T>(x, r0 + i);
    ss += v * v;
  }
  ss = block_sum(ss);
  float rs = float(1.0 / sqrt(ss / double(dim) + double(eps)));
  if (threadIdx.x == 0) rstd[blockIdx.x] = rs;
  for (long long i = threadIdx.x; i < dim; i += kNormT) st<T>(y, r0 + i, w[i] * (ld<T>(x, r0 + i) * rs));
}

template <DType T>
__global__ void rms_bwd_dx_k(const void* dy, const void* x, const float* w, const float* rstd, long long dim,
                             void* dx) {
  const long long r0 = blockIdx.x * dim;
  double dot = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) dot += double(ld<T>(dy, r0 + i)) * w[i] * ld<T>(x, r0 + i);
  dot = block_sum(dot);
  double rs = rstd[blockIdx.x];
  float k = float(dot * rs * rs * rs / double(dim));
  for (long long i = threadIdx.x; i < dim; i += kNormT)
    st<T>(dx, r0 + i, float(rs) * ld<T>(dy, r0 + i) * w[i] - ld<T>(x, r0 + i) * k);
}

template <DType T>
__global__ void rms_bwd_dw_k(const void* dy, const void* x, const float* rstd, long long rows, long long dim, float* dw,
                             bool acc) {
  PLF_GRID_STRIDE(i, dim) {
    double s = 0.0;
    for (long long r = 0; r < rows; r++) s += double(ld<T>(dy, r * dim + i)) * ld<T>(x, r * dim + i) * rstd[r];
    dw[i] = acc ? dw[i] + float(s) : float(s);
  }
}

template <DType T>
__global__ void ln_fwd_k(const void* x, const float* w, const float* b, long long dim, float eps, void* y, float* mean,
                         float* rstd) {
  const long long r0 = blockIdx.x * dim;
  double s = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) s += ld<T>(x, r0 + i);
  double mu = block_sum(s) / double(dim), var = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) {
    double d = ld<T>(x, r0 + i) - mu;
    var += d * d;
  }
  var = block_sum(var) / double(dim);
  double rs = 1.0 / sqrt(var + double(eps));
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = float(mu);
    rstd[blockIdx.x] = float(rs);
  }
  for (long long i = threadIdx.x; i < dim; i += kNormT) {
    float v = float((ld<T>(x, r0 + i) - mu) * rs) * w[i];
    st<T>(y, r0 + i, b ? v + b[i] : v);
  }
}

template <DType T>
__global__ void ln_bwd_dx_k(const void* dy, const void* x, const float* w, const float* mean, const float* rstd,
                            long long dim, void* dx) {
  const long long r0 = blockIdx.x * dim;
  double mu = mean[blockIdx.x], rs = rstd[blockIdx.x], s1 = 0.0, s2 = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) {
    double gh = double(ld<T>(dy, r0 + i)) * w[i], xh = (ld<T>(x, r0 + i) - mu) * rs;
    s1 += gh;
    s2 += gh * xh;
  }
  s1 = block_sum(s1) / double(dim);
  s2 = block_sum(s2) / double(dim);
  for (long long i = threadIdx.x; i < dim; i += kNormT) {
    double gh = double(ld<T>(dy, r0 + i)) * w[i], xh = (ld<T>(x, r0 + i) - mu) * rs;
    st<T>(dx, r0 + i, float(rs * (gh - s1 - xh * s2)));
  }
}

template <DType T>
__global__ void ln_bwd_dwb_k(const void* dy, const void* x, const float* mean, const float* rstd, long long rows,
                             long long dim, float* dw, float* db, bool acc) {
  PLF_GRID_STRIDE(i, dim) {
    double sw = 0.0, sb = 0.0;
    for (long long r = 0; r < rows; r++) {
      double g = ld<T>(dy, r * dim + i);
      sw += g * (ld<T>(x, r * dim + i) - mean[r]) * rstd[r];
      sb += g;
    }
    if (dw) dw[i] = acc ? dw[i] + float(sw) : float(sw);
    if (db) db[i] = acc ? db[i] + float(sb) : float(sb);
  }
}

}  // namespace cuda
}  // namespace plf
