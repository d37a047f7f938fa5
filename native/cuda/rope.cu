// RoPE on CUDA: one thread per (row, head, rotated pair); inv_freq and the angles are computed as
// on the CPU (float32 inv_freq, cos/sin of the f32 angle in double); 16-bit x and y in place.
#include "plf/ops.h"
#include "check.cuh"
#include "act.cuh"
#include "rope.cuh"
#include <cmath>
#include <vector>

namespace plf {
namespace cuda {

void rope_forward(CAct x, const int64_t* pos, int64_t B, int64_t T, int64_t H, int64_t D, int64_t rot, double theta,
                  bool inverse, Act y) {
  int64_t half = rot / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; i++) inv[i] = 1.0f / std::pow(float(theta), float(2 * i) / float(rot));
  Scratch<float> dinv{size_t(half)};
  to_device(dinv.get(), inv.data(), inv.size(), "rope_forward: inv_freq");
  long long n = B * T * H * half;
  if (n)
    by_dtype(x.t, [&](auto tag) {
      rope_k<PLF_DT(tag)><<<blocks_for(n, 256), 256>>>(x.p, pos, B * T, H, D, half, rot, dinv.get(), inverse, y.p);
    });
  check_launch("rope_forward");
}

}  // namespace cuda
}  // namespace plf
