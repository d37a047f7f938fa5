// The copy op family: column slices of a row-major matrix, and the KV-cache append of a decode step.
// Declared once, for the CPU reference (namespace cpu) and the CUDA kernels (namespace cuda, device
// pointers; index arrays are device int64 too), through the X-macro list below (see ops.h; the CUDA
// stub of a build without nvcc is generated from the same list).
#pragma once
#include "op_decl.h"

#define PLF_COPY_OPS(X)                                                                               \
  /* Column slices of a row-major [R, C] matrix (e.g. q/k/v out of a fused projection): */            \
  /* y [R, L] = x[:, start:start+L]; backward adds dy back into those columns of dx. */               \
  X(void, slice_cols_forward, (ActIn x, int64_t R, int64_t C, int64_t start, int64_t L, ActOut y))    \
  X(void, slice_cols_backward, (ActIn dy, int64_t R, int64_t C, int64_t start, int64_t L, ActOut dx)) \
  /* KV cache append: caches [B, cap, row] get k, v [B, T, row] at positions at[0] .. at[0]+T-1 */    \
  /* (both in one launch), at read from the caches' device (a CUDA graph replays it with a new */     \
  /* at); positions outside [0, cap) are not written. */                                              \
  X(void, cache_write,                                                                                \
    (ActIn k, ActIn v, int64_t B, int64_t T, int64_t cap, int64_t row, const int64_t* at, ActOut kc, ActOut vc))

PLF_DECLARE_OPS(PLF_COPY_OPS)
