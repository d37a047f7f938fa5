// Rotary position embedding (HF rotate_half layout, optional partial rotary) on the CPU.
#include "plf/ops.h"
#include <cmath>
#include <vector>

namespace plf {
namespace cpu {

static void rope_one(const float* x, const int64_t* pos, int64_t B, int64_t T, int64_t H, int64_t D, int64_t rot,
                     double theta, bool inverse, float* y) {
  int64_t half = rot / 2;
  // inv_freq as HF computes it in float32: 1 / theta^(2i / rot)
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; i++) inv[i] = 1.0f / std::pow(float(theta), float(2 * i) / float(rot));
#pragma omp parallel for schedule(static) if (B * T * H * D > 65536)
  for (int64_t bt = 0; bt < B * T; bt++) {
    std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
    float p = float(pos[bt]);
    for (int64_t i = 0; i < half; i++) {
      float ang = inv[i] * p;
      c[i] = float(std::cos(double(ang)));
      s[i] = float(std::sin(double(ang)));
      if (inverse) s[i] = -s[i];
    }
    for (int64_t h = 0; h < H; h++) {
      const float* xi = x + (bt * H + h) * D;
      float* yi = y + (bt * H + h) * D;
      for (int64_t i = 0; i < half; i++) {
        float x1 = xi[i], x2 = xi[i + half];
        yi[i] = x1 * c[i] - x2 * s[i];
        yi[i + half] = x2 * c[i] + x1 * s[i];
      }
      if (yi != xi)
        for (int64_t i = rot; i < D; i++) yi[i] = xi[i];
    }
  }
}

void rope_forward(const float* x, const int64_t* pos, int64_t B, int64_t T, int64_t H, int64_t D, int64_t rot,
                  double theta, bool inverse, float* y, const float* x2, int64_t H2, float* y2) {
  rope_one(x, pos, B, T, H, D, rot, theta, inverse, y);
  if (H2 > 0) rope_one(x2, pos, B, T, H2, D, rot, theta, inverse, y2);
}

}  // namespace cpu
}  // namespace plf
