// AdamW on the CPU, one call for a list of tensors. The arithmetic follows torch's
// single-tensor AdamW step by step in float32 (scalars computed in double, then rounded),
// so results match torch.optim.AdamW bit for bit on ordinary inputs.
#include "plf/optim.h"
#include <algorithm>
#include <cmath>
#include <vector>

namespace plf {
namespace cpu {

// Fixed chunks summed in order, so the gradient norm (and hence clipping) does not depend on
// the thread count: a resumed run on another machine takes the same steps.
static double sum_squares(const float* g, int64_t n, bool* nonfinite) {
  constexpr int64_t kChunk = 65536;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(size_t(chunks), 0.0);
  bool bad = false;
#pragma omp parallel for reduction(|| : bad) schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; c++) {
    double s = 0.0;
    for (int64_t i = c * kChunk, e = std::min(n, i + kChunk); i < e; i++) {
      float x = g[i];
      if (!std::isfinite(x)) bad = true;
      s += double(x) * double(x);
    }
    part[size_t(c)] = s;
  }
  if (bad) *nonfinite = true;
  double s = 0.0;
  for (double p : part) s += p;
  return s;
}

AdamWResult adamw_step(AdamWParam* params, int64_t count, const AdamWConfig& cfg) {
  AdamWResult res;
  bool nonfinite = false;
  double sq = 0.0;
  for (int64_t t = 0; t < count; t++) sq += sum_squares(params[t].grad, params[t].n, &nonfinite);
  double unscale = 1.0 / cfg.grad_scale;
  res.grad_norm = std::sqrt(sq) * unscale;
  if (nonfinite && cfg.skip_nonfinite) {
    res.skipped = true;
    return res;
  }
  double clip = 1.0;
  if (cfg.max_grad_norm > 0.0) clip = std::min(1.0, cfg.max_grad_norm / (res.grad_norm + 1e-6));
  const float gmul = float(unscale * clip);
  const bool scale_grads = gmul != 1.0f;

  const float decay = float(1.0 - cfg.lr * cfg.weight_decay);
  const float w1 = float(1.0 - cfg.beta1);  // lerp weight
  const float b2 = float(cfg.beta2), c2 = float(1.0 - cfg.beta2);
  const double bc1 = 1.0 - std::pow(cfg.beta1, double(cfg.step));
  const double bc2 = 1.0 - std::pow(cfg.beta2, double(cfg.step));
  const float neg_step = float(-(cfg.lr / bc1));
  const float bc2_sqrt = float(std::sqrt(bc2));
  const float eps = float(cfg.eps);

  for (int64_t t = 0; t < count; t++) {
    AdamWParam& P = params[t];
    float* w = P.master ? P.master : static_cast<float*>(P.param);
#pragma omp parallel for schedule(static) if (P.n > 32768)
    for (int64_t i = 0; i < P.n; i++) {
      float g = scale_grads ? P.grad[i] * gmul : P.grad[i];
      float p = w[i] * decay;
      float m = P.m[i];
      m = w1 < 0.5f ? m + w1 * (g - m) : g - (g - m) * (1.0f - w1);
      float v = P.v[i] * b2;
      v = v + c2 * g * g;
      float denom = std::sqrt(v) / bc2_sqrt + eps;
      p = p + neg_step * m / denom;
      P.m[i] = m;
      P.v[i] = v;
      w[i] = p;
      if (P.master) {
        uint16_t* out = static_cast<uint16_t*>(P.param);
        out[i] = P.dtype == DType::BF16 ? f32_to_bf16(p) : f32_to_f16(p);
      }
    }
  }
  return res;
}

}  // namespace cpu
}  // namespace plf
