// The activation op family: elementwise activations, scale and add.
// Declared once, for the CPU reference (namespace cpu) and the CUDA kernels (namespace cuda, device
// pointers; index arrays are device int64 too), through the X-macro list below (see ops.h; the CUDA
// stub of a build without nvcc is generated from the same list).
#pragma once
#include "op_decl.h"

#define PLF_ACTIVATION_OPS(X)                                                                                          \
  /* activations (elementwise over n) */                                                                               \
  X(void, swiglu_forward, (const float* gate, const float* up, int64_t n, float* y))                                   \
  X(void, swiglu_backward, (const float* dy, const float* gate, const float* up, int64_t n, float* dgate, float* dup)) \
  X(void, gelu_forward, (const float* x, int64_t n, bool tanh_approx, float* y))                                       \
  X(void, gelu_backward, (const float* dy, const float* x, int64_t n, bool tanh_approx, float* dx))                    \
  X(void, geglu_forward, (const float* gate, const float* up, int64_t n, bool tanh_approx, float* y))                  \
  X(void, geglu_backward,                                                                                              \
    (const float* dy, const float* gate, const float* up, int64_t n, bool tanh_approx, float* dgate, float* dup))      \
  X(void, relu_forward, (const float* x, int64_t n, float* y))                                                         \
  X(void, relu_backward, (const float* dy, const float* x, int64_t n, float* dx))                                      \
  X(void, tanh_forward, (const float* x, int64_t n, float* y))                                                         \
  X(void, tanh_backward, (const float* dy, const float* y, int64_t n, float* dx))                                      \
  X(void, scale_forward, (const float* x, int64_t n, float alpha, float* y))                                           \
  X(void, add_forward, (const float* a, const float* b, int64_t n, float* y))

PLF_DECLARE_OPS(PLF_ACTIVATION_OPS)
