// Strided copies on the CPU: column slices of row-major matrices.
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

}  // namespace cpu
}  // namespace plf
