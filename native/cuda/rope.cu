// RoPE on CUDA: one thread per (row, head, rotated pair); inv_freq and the angles are computed as
// on the CPU (float32 inv_freq, cos/sin of the f32 angle in double).
#include "plf/ops.h"
#include "check.cuh"
#include <cmath>
#include <vector>

namespace plf {
namespace cuda {

__global__ void rope_k(const float* x, const int64_t* pos, long long BT, long long H, long long D, long long half,
                       long long rot, const float* inv, bool inverse, float* y) {
  PLF_GRID_STRIDE(t, BT * H * half) {
    long long i = t % half, bh = t / half, bt = bh / H;
    float ang = inv[i] * float(pos[bt]);
    float c = float(cos(double(ang))), s = float(sin(double(ang)));
    if (inverse) s = -s;
    const float* xi = x + bh * D;
    float* yi = y + bh * D;
    float x1 = xi[i], x2 = xi[i + half];
    yi[i] = x1 * c - x2 * s;
    yi[i + half] = x2 * c + x1 * s;
    if (yi != xi && i == 0)
      for (long long j = rot; j < D; j++) yi[j] = xi[j];
  }
}

void rope_forward(const float* x, const int64_t* pos, int64_t B, int64_t T, int64_t H, int64_t D, int64_t rot,
                  double theta, bool inverse, float* y) {
  int64_t half = rot / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; i++) inv[i] = 1.0f / std::pow(float(theta), float(2 * i) / float(rot));
  Scratch<float> dinv{size_t(half)};
  to_device(dinv.get(), inv.data(), inv.size(), "rope_forward: inv_freq");
  long long n = B * T * H * half;
  if (n) rope_k<<<blocks_for(n, 256), 256>>>(x, pos, B * T, H, D, half, rot, dinv.get(), inverse, y);
  check_launch("rope_forward");
}

}  // namespace cuda
}  // namespace plf
