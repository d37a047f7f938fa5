// Optional cuBLASLt (opened at run time, never required) for the bf16 tensor-core matmuls.
#pragma once
#include <cstddef>
#include <string>
#include "common.h"

namespace plf {
namespace cuda {
namespace lt {
struct Info {
  bool loaded = false;   // the library was found and initialised
  bool enabled = false;  // and the matmuls use it (set_enabled; PLF_CUBLASLT=0 turns it off)
  std::string library, reason;
  size_t version = 0;
};
Info info();
// Turns its use on or off; returns whether the matmuls will use it.
bool set_enabled(bool on);
// Whether C[M,N] (ld ldc) = alpha·A·op(W) + beta·C can run on it (A row-major [M,K] and W row-major,
// [N,K] with trans, else [K,N], both of the 16-bit type e: BF16 or F16; C of dtype ct: F32 or e);
// false also when not loaded or disabled.
bool can_run(long long M, long long N, long long K, bool trans, long long ldc, float beta, DType e, DType ct);
// Runs that product; false when it can't (the caller's kernel runs instead).
bool gemm_16(long long M, long long N, long long K, float alpha, const void* a16, const void* w16, bool trans,
             float beta, void* c, long long ldc, DType e, DType ct);
}  // namespace lt
}  // namespace cuda
}  // namespace plf
