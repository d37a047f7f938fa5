// The convert op family: conversions between f32 / f16 / bf16 (round to nearest even).
// Declared once, for the CPU reference (namespace cpu) and the CUDA kernels (namespace cuda, device
// pointers; index arrays are device int64 too), through the X-macro list below (see ops.h; the CUDA
// stub of a build without nvcc is generated from the same list).
#pragma once
#include "op_decl.h"

#define PLF_CONVERT_OPS(X)                                           \
  /* conversions between f32 / f16 / bf16 (round to nearest even) */ \
  X(void, convert, (DType from, const void* src, DType to, void* dst, int64_t n))

PLF_DECLARE_OPS(PLF_CONVERT_OPS)
