// Elementwise activations on CUDA (grid-stride loops), the same arithmetic as native/cpu/activation.cpp:
// GELU's tanh/erf forms in double, rounded once, so results agree with the CPU to the last bits.
#include "plf/ops.h"
#include "check.cuh"

namespace plf {
namespace cuda {

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluC = 0.044715;

__device__ inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ inline double gelu_d(double v, bool t) {
  return t ? 0.5 * v * (1.0 + tanh(kSqrt2OverPi * (v + kGeluC * v * v * v)))
           : 0.5 * v * (1.0 + erf(v * 0.7071067811865476));
}
__device__ inline double gelu_grad(double v, bool t) {
  if (t) {
    double th = tanh(kSqrt2OverPi * (v + kGeluC * v * v * v));
    return 0.5 * (1.0 + th) + 0.5 * v * (1.0 - th * th) * kSqrt2OverPi * (1.0 + 3.0 * kGeluC * v * v);
  }
  return 0.5 * (1.0 + erf(v * 0.7071067811865476)) + v * exp(-0.5 * v * v) * 0.3989422804014327;
}

__global__ void swiglu_fwd_k(const float* g, const float* u, long long n, float* y) {
  PLF_GRID_STRIDE(i, n) y[i] = g[i] * sigmoidf_(g[i]) * u[i];
}
__global__ void swiglu_bwd_k(const float* dy, const float* g, const float* u, long long n, float* dg, float* du) {
  PLF_GRID_STRIDE(i, n) {
    float x = g[i], s = sigmoidf_(x);
    if (dg) dg[i] = dy[i] * u[i] * (s * (1.0f + x * (1.0f - s)));
    if (du) du[i] = dy[i] * x * s;
  }
}
__global__ void gelu_fwd_k(const float* x, long long n, bool t, float* y) {
  PLF_GRID_STRIDE(i, n) y[i] = float(gelu_d(x[i], t));
}
__global__ void gelu_bwd_k(const float* dy, const float* x, long long n, bool t, float* dx) {
  PLF_GRID_STRIDE(i, n) dx[i] = float(dy[i] * gelu_grad(x[i], t));
}
__global__ void geglu_fwd_k(const float* g, const float* u, long long n, bool t, float* y) {
  PLF_GRID_STRIDE(i, n) y[i] = float(gelu_d(g[i], t)) * u[i];
}
__global__ void geglu_bwd_k(const float* dy, const float* g, const float* u, long long n, bool t, float* dg,
                            float* du) {
  PLF_GRID_STRIDE(i, n) {
    double v = g[i];
    if (dg) dg[i] = float(double(dy[i]) * u[i] * gelu_grad(v, t));
    if (du) du[i] = dy[i] * float(gelu_d(v, t));
  }
}
__global__ void relu_fwd_k(const float* x, long long n, float* y) {
  PLF_GRID_STRIDE(i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
__global__ void relu_bwd_k(const float* dy, const float* x, long long n, float* dx) {
  PLF_GRID_STRIDE(i, n) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
__global__ void tanh_fwd_k(const float* x, long long n, float* y) { PLF_GRID_STRIDE(i, n) y[i] = tanhf(x[i]); }
__global__ void tanh_bwd_k(const float* dy, const float* y, long long n, float* dx) {
  PLF_GRID_STRIDE(i, n) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}
__global__ void scale_k(const float* x, long long n, float a, float* y) { PLF_GRID_STRIDE(i, n) y[i] = x[i] * a; }
__global__ void add_k(const float* a, const float* b, long long n, float* y) {
  PLF_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

#define PLF_LAUNCH(kernel, n, ...)                                 \
  do {                                                             \
    if ((n) > 0) kernel<<<blocks_for(n, 256), 256>>>(__VA_ARGS__); \
    check_launch(#kernel);                                         \
  } while (0)

void swiglu_forward(const float* g, const float* u, int64_t n, float* y) { PLF_LAUNCH(swiglu_fwd_k, n, g, u, n, y); }
void swiglu_backward(const float* dy, const float* g, const float* u, int64_t n, float* dg, float* du) {
  PLF_LAUNCH(swiglu_bwd_k, n, dy, g, u, n, dg, du);
}
void gelu_forward(const float* x, int64_t n, bool t, float* y) { PLF_LAUNCH(gelu_fwd_k, n, x, n, t, y); }
void gelu_backward(const float* dy, const float* x, int64_t n, bool t, float* dx) {
  PLF_LAUNCH(gelu_bwd_k, n, dy, x, n, t, dx);
}
void geglu_forward(const float* g, const float* u, int64_t n, bool t, float* y) {
  PLF_LAUNCH(geglu_fwd_k, n, g, u, n, t, y);
}
void geglu_backward(const float* dy, const float* g, const float* u, int64_t n, bool t, float* dg, float* du) {
  PLF_LAUNCH(geglu_bwd_k, n, dy, g, u, n, t, dg, du);
}
void relu_forward(const float* x, int64_t n, float* y) { PLF_LAUNCH(relu_fwd_k, n, x, n, y); }
void relu_backward(const float* dy, const float* x, int64_t n, float* dx) { PLF_LAUNCH(relu_bwd_k, n, dy, x, n, dx); }
void tanh_forward(const float* x, int64_t n, float* y) { PLF_LAUNCH(tanh_fwd_k, n, x, n, y); }
void tanh_backward(const float* dy, const float* y, int64_t n, float* dx) { PLF_LAUNCH(tanh_bwd_k, n, dy, y, n, dx); }
void scale_forward(const float* x, int64_t n, float a, float* y) { PLF_LAUNCH(scale_k, n, x, n, a, y); }
void add_forward(const float* a, const float* b, int64_t n, float* y) { PLF_LAUNCH(add_k, n, a, b, n, y); }

}  // namespace cuda
}  // namespace plf
