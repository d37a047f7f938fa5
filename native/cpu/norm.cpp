// RMSNorm and LayerNorm on the CPU. Statistics in double per row; weight grads summed per column.
#include "plf/ops.h"
#include <cmath>

namespace plf {
namespace cpu {

void rmsnorm_forward(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* y, float* rstd) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * dim;
    double ss = 0.0;
    for (int64_t i = 0; i < dim; i++) ss += double(xr[i]) * xr[i];
    float rs = float(1.0 / std::sqrt(ss / double(dim) + double(eps)));
    rstd[r] = rs;
    for (int64_t i = 0; i < dim; i++) y[r * dim + i] = w[i] * (xr[i] * rs);
  }
}

void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, int64_t rows, int64_t dim,
                      float* dx, float* dw, bool accumulate) {
  if (dx) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
    for (int64_t r = 0; r < rows; r++) {
      const float *xr = x + r * dim, *g = dy + r * dim;
      double dot = 0.0;
      for (int64_t i = 0; i < dim; i++) dot += double(g[i]) * w[i] * xr[i];
      double rs = rstd[r];
      float k = float(dot * rs * rs * rs / double(dim));
      for (int64_t i = 0; i < dim; i++) dx[r * dim + i] = float(rs) * g[i] * w[i] - xr[i] * k;
    }
  }
  if (dw) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
    for (int64_t i = 0; i < dim; i++) {
      double s = 0.0;
      for (int64_t r = 0; r < rows; r++) s += double(dy[r * dim + i]) * x[r * dim + i] * rstd[r];
      dw[i] = accumulate ? dw[i] + float(s) : float(s);
    }
  }
}

void layernorm_forward(const float* x, const float* w, const float* b, int64_t rows, int64_t dim, float eps, float* y,
                       float* mean, float* rstd) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * dim;
    double s = 0.0;
    for (int64_t i = 0; i < dim; i++) s += xr[i];
    double mu = s / double(dim), var = 0.0;
    for (int64_t i = 0; i < dim; i++) var += (xr[i] - mu) * (xr[i] - mu);
    double rs = 1.0 / std::sqrt(var / double(dim) + double(eps));
    mean[r] = float(mu);
    rstd[r] = float(rs);
    for (int64_t i = 0; i < dim; i++) {
      float v = float((xr[i] - mu) * rs) * w[i];
      y[r * dim + i] = b ? v + b[i] : v;
    }
  }
}

void layernorm_backward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                        int64_t rows, int64_t dim, float* dx, float* dw, float* db, bool accumulate) {
  if (dx) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
    for (int64_t r = 0; r < rows; r++) {
      const float *xr = x + r * dim, *g = dy + r * dim;
      double mu = mean[r], rs = rstd[r], s1 = 0.0, s2 = 0.0;
      for (int64_t i = 0; i < dim; i++) {
        double gh = double(g[i]) * w[i], xh = (xr[i] - mu) * rs;
        s1 += gh;
        s2 += gh * xh;
      }
      s1 /= double(dim);
      s2 /= double(dim);
      for (int64_t i = 0; i < dim; i++) {
        double gh = double(g[i]) * w[i], xh = (xr[i] - mu) * rs;
        dx[r * dim + i] = float(rs * (gh - s1 - xh * s2));
      }
    }
  }
  if (dw || db) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
    for (int64_t i = 0; i < dim; i++) {
      double sw = 0.0, sb = 0.0;
      for (int64_t r = 0; r < rows; r++) {
        double g = dy[r * dim + i];
        sw += g * (x[r * dim + i] - mean[r]) * rstd[r];
        sb += g;
      }
      if (dw) dw[i] = accumulate ? dw[i] + float(sw) : float(sw);
      if (db) db[i] = accumulate ? db[i] + float(sb) : float(sb);
    }
  }
}

}  // namespace cpu
}  // namespace plf
