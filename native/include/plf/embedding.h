// The embedding op family: embedding lookups and row gathers.
// Declared once, for the CPU reference (namespace cpu) and the CUDA kernels (namespace cuda, device
// pointers; index arrays are device int64 too), through the X-macro list below (see ops.h; the CUDA
// stub of a build without nvcc is generated from the same list).
#pragma once
#include "op_decl.h"

#define PLF_EMBEDDING_OPS(X)                                                                                   \
  /* embedding: ids [n] -> out [n, dim] (an id outside [0, vocab) gives a zero row: CUDA graphs skip */        \
  /* the host's range check); backward scatter-adds into dtable [vocab, dim] */                                \
  X(void, embedding_forward, (const int64_t* ids, int64_t n, ActIn table, int64_t V, int64_t dim, ActOut out)) \
  X(void, embedding_backward, (const int64_t* ids, int64_t n, ActIn dout, int64_t dim, float* dtable))         \
  /* rows gather: x [B, T, H], idx [B] -> y [B, H]; backward writes (or adds into) dx */                       \
  X(void, gather_rows_forward, (ActIn x, const int64_t* idx, int64_t B, int64_t T, int64_t H, ActOut y))       \
  X(void, gather_rows_backward, (ActIn dy, const int64_t* idx, int64_t B, int64_t T, int64_t H, ActOut dx))

PLF_DECLARE_OPS(PLF_EMBEDDING_OPS)
