// The elementwise activation kernels (activation.cu launches them), templated on the activation
// dtype T: device code only, so the CPU emulator (test/cuda-emu) compiles it too; the includer
// provides PLF_GRID_STRIDE. The same arithmetic as native/cpu/activation.cpp.
#pragma once
#include "plf/act.h"
#include <cmath>

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

// every kernel is templated on the activation dtype T (f32, bf16 or f16: read and written in place,
// the math in f32 or double registers, as the CPU computes on the staged f32 values)
template <DType T>
__global__ void swiglu_fwd_k(const void* g, const void* u, long long n, void* y) {
  PLF_GRID_STRIDE(i, n) {
    float x = ld<T>(g, i);
    st<T>(y, i, x * sigmoidf_(x) * ld<T>(u, i));
  }
}
template <DType T>
__global__ void swiglu_bwd_k(const void* dy, const void* g, const void* u, long long n, void* dg, void* du) {
  PLF_GRID_STRIDE(i, n) {
    float x = ld<T>(g, i), s = sigmoidf_(x), d = ld<T>(dy, i);
    if (dg) st<T>(dg, i, d * ld<T>(u, i) * (s * (1.0f + x * (1.0f - s))));
    if (du) st<T>(du, i, d * x * s);
  }
}
template <DType T>
__global__ void gelu_fwd_k(const void* x, long long n, bool t, void* y) {
  PLF_GRID_STRIDE(i, n) st<T>(y, i, float(gelu_d(ld<T>(x, i), t)));
}
template <DType T>
__global__ void gelu_bwd_k(const void* dy, const void* x, long long n, bool t, void* dx) {
  PLF_GRID_STRIDE(i, n) st<T>(dx, i, float(ld<T>(dy, i) * gelu_grad(ld<T>(x, i), t)));
}
template <DType T>
__global__ void geglu_fwd_k(const void* g, const void* u, long long n, bool t, void* y) {
  PLF_GRID_STRIDE(i, n) st<T>(y, i, float(gelu_d(ld<T>(g, i), t)) * ld<T>(u, i));
}
template <DType T>
__global__ void geglu_bwd_k(const void* dy, const void* g, const void* u, long long n, bool t, void* dg, void* du) {
  PLF_GRID_STRIDE(i, n) {
    double v = ld<T>(g, i);
    float d = ld<T>(dy, i);
    if (dg) st<T>(dg, i, float(double(d) * ld<T>(u, i) * gelu_grad(v, t)));
    if (du) st<T>(du, i, d * float(gelu_d(v, t)));
  }
}
template <DType T>
__global__ void relu_fwd_k(const void* x, long long n, void* y) {
  PLF_GRID_STRIDE(i, n) {
    float v = ld<T>(x, i);
    st<T>(y, i, v > 0.0f ? v : 0.0f);
  }
}
template <DType T>
__global__ void relu_bwd_k(const void* dy, const void* x, long long n, void* dx) {
  PLF_GRID_STRIDE(i, n) st<T>(dx, i, ld<T>(x, i) > 0.0f ? ld<T>(dy, i) : 0.0f);
}
template <DType T>
__global__ void tanh_fwd_k(const void* x, long long n, void* y) {
  PLF_GRID_STRIDE(i, n) st<T>(y, i, tanhf(ld<T>(x, i)));
}
template <DType T>
__global__ void tanh_bwd_k(const void* dy, const void* y, long long n, void* dx) {
  PLF_GRID_STRIDE(i, n) {
    float v = ld<T>(y, i);
    st<T>(dx, i, ld<T>(dy, i) * (1.0f - v * v));
  }
}
template <DType T>
__global__ void scale_k(const void* x, long long n, float a, void* y) {
  PLF_GRID_STRIDE(i, n) st<T>(y, i, ld<T>(x, i) * a);
}
template <DType T>
__global__ void add_k(const void* a, const void* b, long long n, void* y) {
  PLF_GRID_STRIDE(i, n) st<T>(y, i, ld<T>(a, i) + ld<T>(b, i));
}

}  // namespace cuda
}  // namespace plf
