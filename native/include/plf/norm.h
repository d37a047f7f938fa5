// The norm op family: RMSNorm and LayerNorm.
// Declared once, for the CPU reference (namespace cpu) and the CUDA kernels (namespace cuda, device
// pointers; index arrays are device int64 too), through the X-macro list below (see ops.h; the CUDA
// stub of a build without nvcc is generated from the same list).
#pragma once
#include "op_decl.h"

#define PLF_NORM_OPS(X)                                                                                             \
  /* rmsnorm: y = x / sqrt(mean(x²) + eps) · w ; rstd [rows] saved for backward */                                \
  X(void, rmsnorm_forward, (ActIn x, const float* w, int64_t rows, int64_t dim, float eps, ActOut y, float* rstd))  \
  X(void, rmsnorm_backward,                                                                                         \
    (ActIn dy, ActIn x, const float* w, const float* rstd, int64_t rows, int64_t dim, ActOut dx, float* dw,         \
     bool accumulate))                                                                                              \
  /* layernorm with bias; mean and rstd [rows] saved for backward */                                                \
  X(void, layernorm_forward,                                                                                        \
    (ActIn x, const float* w, const float* b, int64_t rows, int64_t dim, float eps, ActOut y, float* mean,          \
     float* rstd))                                                                                                  \
  X(void, layernorm_backward,                                                                                       \
    (ActIn dy, ActIn x, const float* w, const float* mean, const float* rstd, int64_t rows, int64_t dim, ActOut dx, \
     float* dw, float* db, bool accumulate))

PLF_DECLARE_OPS(PLF_NORM_OPS)
