// The rope op family: rotary position embeddings (HF rotate_half layout).
// Declared once, for the CPU reference (namespace cpu) and the CUDA kernels (namespace cuda, device
// pointers; index arrays are device int64 too), through the X-macro list below (see ops.h; the CUDA
// stub of a build without nvcc is generated from the same list).
#pragma once
#include "op_decl.h"

#define PLF_ROPE_OPS(X)                                                                                                \
  /* RoPE (HF rotate_half layout) on x [B, T, H, D] over the first `rot` dims, positions [B, T]. */                    \
  /* backward = forward with the sine negated; in-place use (y == x) is allowed. A second tensor x2 */                 \
  /* [B, T, H2, D] (k beside q; null when H2 = 0) is rotated in the same call: one launch, not two. */                 \
  X(void, rope_forward,                                                                                                \
    (ActIn x, const int64_t* pos, int64_t B, int64_t T, int64_t H, int64_t D, int64_t rot, double theta, bool inverse, \
     ActOut y, ActIn x2, int64_t H2, ActOut y2))

PLF_DECLARE_OPS(PLF_ROPE_OPS)
