// The loss op family: losses (mean over counted rows; forward returns the loss), and greedy
// decoding's pick over the same logits.
// Declared once, for the CPU reference (namespace cpu) and the CUDA kernels (namespace cuda, device
// pointers; index arrays are device int64 too), through the X-macro list below (see ops.h; the CUDA
// stub of a build without nvcc is generated from the same list).
#pragma once
#include "op_decl.h"

#define PLF_LOSS_OPS(X)                                                                                        \
  /* losses: mean over counted rows; return the loss */                                                        \
  X(double, cross_entropy_forward,                                                                             \
    (ActIn logits, const int64_t* targets, int64_t rows, int64_t vocab, int64_t ignore_index, int64_t* count)) \
  X(void, cross_entropy_backward,                                                                              \
    (ActIn logits, const int64_t* targets, int64_t rows, int64_t vocab, int64_t ignore_index, float dloss,     \
     ActOut dlogits))                                                                                          \
  X(double, bce_logits_forward, (const float* x, const float* y, int64_t n))                                   \
  X(void, bce_logits_backward, (const float* x, const float* y, int64_t n, float dloss, float* dx))            \
  /* greedy pick: out[r] = the first maximum of row r, as the scan best = 0; x[v] > x[best] finds it */        \
  /* (a NaN is never chosen unless in column 0; torch.argmax would return a NaN's index) */                    \
  X(void, argmax_rows, (ActIn x, int64_t rows, int64_t vocab, int64_t * out))

PLF_DECLARE_OPS(PLF_LOSS_OPS)
