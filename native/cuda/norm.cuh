// RMSNorm and LayerNorm device code (norm.cu launches it): one block of kNormT threads per row for
// the statistics and dx, one thread per column for the weight grads. Device code only, so the CPU
// emulator (test/cuda-emu) compiles it too; the includer provides warp_sum and PLF_GRID_STRIDE.
#pragma once
#include "plf/common.h"

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

__global__ void rms_fwd_k(const float* x, const float* w, long long dim, float eps, float* y, float* rstd) {
  const float* xr = x + blockIdx.x * dim;
  double ss = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) ss += double(xr[i]) * xr[i];
  ss = block_sum(ss);
  float rs = float(1.0 / sqrt(ss / double(dim) + double(eps)));
  if (threadIdx.x == 0) rstd[blockIdx.x] = rs;
  for (long long i = threadIdx.x; i < dim; i += kNormT) y[blockIdx.x * dim + i] = w[i] * (xr[i] * rs);
}

__global__ void rms_bwd_dx_k(const float* dy, const float* x, const float* w, const float* rstd, long long dim,
                             float* dx) {
  const float *xr = x + blockIdx.x * dim, *g = dy + blockIdx.x * dim;
  double dot = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) dot += double(g[i]) * w[i] * xr[i];
  dot = block_sum(dot);
  double rs = rstd[blockIdx.x];
  float k = float(dot * rs * rs * rs / double(dim));
  for (long long i = threadIdx.x; i < dim; i += kNormT) dx[blockIdx.x * dim + i] = float(rs) * g[i] * w[i] - xr[i] * k;
}

__global__ void rms_bwd_dw_k(const float* dy, const float* x, const float* rstd, long long rows, long long dim,
                             float* dw, bool acc) {
  PLF_GRID_STRIDE(i, dim) {
    double s = 0.0;
    for (long long r = 0; r < rows; r++) s += double(dy[r * dim + i]) * x[r * dim + i] * rstd[r];
    dw[i] = acc ? dw[i] + float(s) : float(s);
  }
}

__global__ void ln_fwd_k(const float* x, const float* w, const float* b, long long dim, float eps, float* y,
                         float* mean, float* rstd) {
  const float* xr = x + blockIdx.x * dim;
  double s = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) s += xr[i];
  double mu = block_sum(s) / double(dim), var = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) {
    double d = xr[i] - mu;
    var += d * d;
  }
  var = block_sum(var) / double(dim);
  double rs = 1.0 / sqrt(var + double(eps));
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = float(mu);
    rstd[blockIdx.x] = float(rs);
  }
  for (long long i = threadIdx.x; i < dim; i += kNormT) {
    float v = float((xr[i] - mu) * rs) * w[i];
    y[blockIdx.x * dim + i] = b ? v + b[i] : v;
  }
}

__global__ void ln_bwd_dx_k(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                            long long dim, float* dx) {
  const float *xr = x + blockIdx.x * dim, *g = dy + blockIdx.x * dim;
  double mu = mean[blockIdx.x], rs = rstd[blockIdx.x], s1 = 0.0, s2 = 0.0;
  for (long long i = threadIdx.x; i < dim; i += kNormT) {
    double gh = double(g[i]) * w[i], xh = (xr[i] - mu) * rs;
    s1 += gh;
    s2 += gh * xh;
  }
  s1 = block_sum(s1) / double(dim);
  s2 = block_sum(s2) / double(dim);
  for (long long i = threadIdx.x; i < dim; i += kNormT) {
    double gh = double(g[i]) * w[i], xh = (xr[i] - mu) * rs;
    dx[blockIdx.x * dim + i] = float(rs * (gh - s1 - xh * s2));
  }
}

__global__ void ln_bwd_dwb_k(const float* dy, const float* x, const float* mean, const float* rstd, long long rows,
                             long long dim, float* dw, float* db, bool acc) {
  PLF_GRID_STRIDE(i, dim) {
    double sw = 0.0, sb = 0.0;
    for (long long r = 0; r < rows; r++) {
      double g = dy[r * dim + i];
      sw += g * (x[r * dim + i] - mean[r]) * rstd[r];
      sb += g;
    }
    if (dw) dw[i] = acc ? dw[i] + float(sw) : float(sw);
    if (db) db[i] = acc ? db[i] + float(sb) : float(sb);
  }
}

}  // namespace cuda
}  // namespace plf
