// Strided copies on the CPU: column slices of row-major matrices, the KV-cache append.
#include "plf/ops.h"
#include <algorithm>

namespace plf {
namespace cpu {

void slice_cols_forward(const float* x, int64_t R, int64_t C, int64_t start, int64_t L, float* y) {
#pragma omp parallel for schedule(static) if (R * L > 65536)
  for (int64_t r = 0; r < R; r++) std::copy(x + r * C + start, x + r * C + start + L, y + r * L);
}

void slice_cols_backward(const float* dy, int64_t R, int64_t C, int64_t start, int64_t L, float* dx) {
#pragma omp parallel for schedule(static) if (R * L > 65536)
  for (int64_t r = 0; r < R; r++)
    for (int64_t j = 0; j < L; j++) dx[r * C + start + j] += dy[r * L + j];
}

void cache_write(const float* k, const float* v, int64_t B, int64_t T, int64_t cap, int64_t row, const int64_t* at,
                 float* kc, float* vc) {
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      int64_t p = at[0] + t, src = (b * T + t) * row, dst = (b * cap + p) * row;
      if (p < 0 || p >= cap) continue;
      std::copy(k + src, k + src + row, kc + dst);
      std::copy(v + src, v + src + row, vc + dst);
    }
}

}  // namespace cpu
}  // namespace plf
