// The RoPE kernel (rope.cu launches it; inv_freq comes from the host), templated on the activation
// dtype T: device code only, so the CPU emulator (test/cuda-emu) compiles it too.
#pragma once
#include "plf/act.h"
#include <cmath>

namespace plf {
namespace cuda {

// element t of BT·H·half: row bt, head, rotated pair i
template <DType T>
__device__ inline void rope_at(long long t, const void* x, const int64_t* pos, long long H, long long D, long long half,
                               long long rot, const float* inv, bool inverse, void* y) {
  long long i = t % half, bh = t / half, bt = bh / H;
  float ang = inv[i] * float(pos[bt]);
  float c = float(cos(double(ang))), s = float(sin(double(ang)));
  if (inverse) s = -s;
  const long long r = bh * D;
  float x1 = ld<T>(x, r + i), x2 = ld<T>(x, r + i + half);
  st<T>(y, r + i, x1 * c - x2 * s);
  st<T>(y, r + i + half, x2 * c + x1 * s);
  if (y != x && i == 0)
    for (long long j = rot; j < D; j++) st<T>(y, r + j, ld<T>(x, r + j));
}

// x [BT, H, D] and, when H2 > 0, x2 [BT, H2, D] (q and k) in one launch
template <DType T>
__global__ void rope_k(const void* x, const int64_t* pos, long long BT, long long H, long long D, long long half,
                       long long rot, const float* inv, bool inverse, void* y, const void* x2 = nullptr,
                       long long H2 = 0, void* y2 = nullptr) {
  const long long n1 = BT * H * half;
  PLF_GRID_STRIDE(t, n1 + BT * H2 * half) {
    if (t < n1)
      rope_at<T>(t, x, pos, H, D, half, rot, inv, inverse, y);
    else
      rope_at<T>(t - n1, x2, pos, H2, D, half, rot, inv, inverse, y2);
  }
}

}  // namespace cuda
}  // namespace plf
