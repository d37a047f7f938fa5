// RoPE on CUDA: one thread per (row, head, rotated pair); inv_freq and the angles are computed as
// on the CPU (float32 inv_freq, cos/sin of the f32 angle in double); 16-bit x and y in place.
#include "plf/ops.h"
#include "check.cuh"
#include "act.cuh"
#include "rope.cuh"
#include <cmath>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace plf {
namespace cuda {

// inv_freq per (rotaryDim, theta), uploaded once and kept for the process (a model has one or two):
// a decode step then makes no host→device copy, so it can be captured into a CUDA graph
static const float* inv_freq(int64_t rot, double theta) {
  static std::mutex mu;
  static std::map<std::pair<int64_t, double>, float*> cache;
  std::lock_guard<std::mutex> lock(mu);
  float*& d = cache[{rot, theta}];
  if (d) return d;
  int64_t half = rot / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; i++) inv[i] = 1.0f / std::pow(float(theta), float(2 * i) / float(rot));
  float* p = static_cast<float*>(malloc_device(inv.size() * sizeof(float)));
  try {
    to_device(p, inv.data(), inv.size(), "rope_forward: inv_freq");
  } catch (...) {
    free_device(p);
    throw;
  }
  return d = p;
}

void rope_forward(CAct x, const int64_t* pos, int64_t B, int64_t T, int64_t H, int64_t D, int64_t rot, double theta,
                  bool inverse, Act y, CAct x2, int64_t H2, Act y2) {
  int64_t half = rot / 2;
  long long n = B * T * (H + H2) * half;
  if (!n) return;
  const float* inv = inv_freq(rot, theta);
  by_dtype(x.t, [&](auto tag) {
    rope_k<PLF_DT(tag)>
        <<<blocks_for(n, 256), 256, 0, stream()>>>(x.p, pos, B * T, H, D, half, rot, inv, inverse, y.p, x2.p, H2, y2.p);
  });
  check_launch("rope_forward");
}

}  // namespace cuda
}  // namespace plf
