// Token embedding lookup, its scatter-add backward, and the row gather used by pooling heads.
#include "plf/ops.h"
#include <algorithm>

namespace plf {
namespace cpu {

void embedding_forward(const int64_t* ids, int64_t n, const float* table, int64_t V, int64_t dim, float* out) {
#pragma omp parallel for schedule(static) if (n * dim > 65536)
  for (int64_t i = 0; i < n; i++)
    if (ids[i] >= 0 && ids[i] < V)
      std::copy(table + ids[i] * dim, table + (ids[i] + 1) * dim, out + i * dim);
    else
      std::fill(out + i * dim, out + (i + 1) * dim, 0.0f);
}

void embedding_backward(const int64_t* ids, int64_t n, const float* dout, int64_t dim, float* dtable) {
  // split by columns: a repeated id never races with itself
  const int64_t chunk = 64;
  int64_t nchunks = (dim + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n * dim > 65536)
  for (int64_t c = 0; c < nchunks; c++) {
    int64_t c0 = c * chunk, c1 = std::min(dim, c0 + chunk);
    for (int64_t i = 0; i < n; i++) {
      float* dst = dtable + ids[i] * dim;
      const float* src = dout + i * dim;
      for (int64_t j = c0; j < c1; j++) dst[j] += src[j];
    }
  }
}

void gather_rows_forward(const float* x, const int64_t* idx, int64_t B, int64_t T, int64_t H, float* y) {
  for (int64_t b = 0; b < B; b++) std::copy(x + (b * T + idx[b]) * H, x + (b * T + idx[b] + 1) * H, y + b * H);
}

void gather_rows_backward(const float* dy, const int64_t* idx, int64_t B, int64_t T, int64_t H, float* dx) {
  std::fill(dx, dx + B * T * H, 0.0f);
  for (int64_t b = 0; b < B; b++) std::copy(dy + b * H, dy + (b + 1) * H, dx + (b * T + idx[b]) * H);
}

}  // namespace cpu
}  // namespace plf
