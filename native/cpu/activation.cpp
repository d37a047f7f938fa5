// Elementwise activations on the CPU: SwiGLU, GELU (erf and tanh "gelu_new"), GeGLU (T5's
// gated-gelu), ReLU, tanh, residual add.
#include "plf/ops.h"
#include <cmath>

namespace plf {
namespace cpu {

#define PLF_PAR_FOR _Pragma("omp parallel for schedule(static) if (n > 65536)")

static inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

void swiglu_forward(const float* gate, const float* up, int64_t n, float* y) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) y[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

void swiglu_backward(const float* dy, const float* gate, const float* up, int64_t n, float* dgate, float* dup) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) {
    float g = gate[i], sg = sigmoid(g);
    if (dgate) dgate[i] = dy[i] * up[i] * (sg * (1.0f + g * (1.0f - sg)));
    if (dup) dup[i] = dy[i] * g * sg;
  }
}

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluC = 0.044715;

static inline double gelu_d(double v, bool tanh_approx) {
  return tanh_approx ? 0.5 * v * (1.0 + std::tanh(kSqrt2OverPi * (v + kGeluC * v * v * v)))
                     : 0.5 * v * (1.0 + std::erf(v * 0.7071067811865476));
}

static inline double gelu_grad(double v, bool tanh_approx) {
  if (tanh_approx) {
    double t = std::tanh(kSqrt2OverPi * (v + kGeluC * v * v * v));
    return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * kGeluC * v * v);
  }
  return 0.5 * (1.0 + std::erf(v * 0.7071067811865476)) + v * std::exp(-0.5 * v * v) * 0.3989422804014327;
}

void gelu_forward(const float* x, int64_t n, bool tanh_approx, float* y) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) y[i] = float(gelu_d(x[i], tanh_approx));
}

void gelu_backward(const float* dy, const float* x, int64_t n, bool tanh_approx, float* dx) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) dx[i] = float(dy[i] * gelu_grad(x[i], tanh_approx));
}

// y = gelu(gate) · up, the gelu rounded to f32 first as torch's two-step `act(wi_0 x) * wi_1 x`
void geglu_forward(const float* gate, const float* up, int64_t n, bool tanh_approx, float* y) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) y[i] = float(gelu_d(gate[i], tanh_approx)) * up[i];
}

void geglu_backward(const float* dy, const float* gate, const float* up, int64_t n, bool tanh_approx, float* dgate,
                    float* dup) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) {
    double v = gate[i];
    if (dgate) dgate[i] = float(double(dy[i]) * up[i] * gelu_grad(v, tanh_approx));
    if (dup) dup[i] = dy[i] * float(gelu_d(v, tanh_approx));
  }
}

void relu_forward(const float* x, int64_t n, float* y) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(const float* dy, const float* x, int64_t n, float* dx) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

void tanh_forward(const float* x, int64_t n, float* y) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) y[i] = std::tanh(x[i]);
}

// from the output: dx = dy · (1 − y²)
void tanh_backward(const float* dy, const float* y, int64_t n, float* dx) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

void scale_forward(const float* x, int64_t n, float alpha, float* y) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * alpha;
}

void add_forward(const float* a, const float* b, int64_t n, float* y) {
  PLF_PAR_FOR
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

}  // namespace cpu
}  // namespace plf
