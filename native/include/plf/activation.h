// The activation op family: elementwise activations, scale and add.
// Declared once, for the CPU reference (namespace cpu) and the CUDA kernels (namespace cuda, device
// pointers; index arrays are device int64 too), through the X-macro list below (see ops.h; the CUDA
// stub of a build without nvcc is generated from the same list).
#pragma once
#include "op_decl.h"

#define PLF_ACTIVATION_OPS(X)                                                                                      \
  /* activations (elementwise over n) */                                                                           \
  X(void, swiglu_forward, (ActIn gate, ActIn up, int64_t n, ActOut y))                                             \
  X(void, swiglu_backward, (ActIn dy, ActIn gate, ActIn up, int64_t n, ActOut dgate, ActOut dup))                  \
  X(void, gelu_forward, (ActIn x, int64_t n, bool tanh_approx, ActOut y))                                          \
  X(void, gelu_backward, (ActIn dy, ActIn x, int64_t n, bool tanh_approx, ActOut dx))                              \
  X(void, geglu_forward, (ActIn gate, ActIn up, int64_t n, bool tanh_approx, ActOut y))                            \
  X(void, geglu_backward, (ActIn dy, ActIn gate, ActIn up, int64_t n, bool tanh_approx, ActOut dgate, ActOut dup)) \
  X(void, relu_forward, (ActIn x, int64_t n, ActOut y))                                                            \
  X(void, relu_backward, (ActIn dy, ActIn x, int64_t n, ActOut dx))                                                \
  X(void, tanh_forward, (ActIn x, int64_t n, ActOut y))                                                            \
  X(void, tanh_backward, (ActIn dy, ActIn y, int64_t n, ActOut dx))                                                \
  X(void, scale_forward, (ActIn x, int64_t n, float alpha, ActOut y))                                              \
  X(void, add_forward, (ActIn a, ActIn b, int64_t n, ActOut y))

PLF_DECLARE_OPS(PLF_ACTIVATION_OPS)
