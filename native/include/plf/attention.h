// The attention op family: attention (causal with a KV cache and a sliding window, or bidirectional with a score bias).
// Declared once, for the CPU reference (namespace cpu) and the CUDA kernels (namespace cuda, device
// pointers; index arrays are device int64 too), through the X-macro list below (see ops.h; the CUDA
// stub of a build without nvcc is generated from the same list).
#pragma once
#include "op_decl.h"

#define PLF_ATTENTION_OPS(X)                                                                                         \
  /* Attention. q [B,Tq,Hq,D]; k/v [B,Tcap,Hkv,D] of which the first Tk positions are valid (a KV */                 \
  /* cache; Tk = Tcap in training); mask [B,Tcap] (1 keep, 0 pad) or null. Causal: query i sits at */                \
  /* absolute position Tk - Tq + i and sees keys up to it; window > 0 keeps keys with t - s < window. */             \
  /* Not causal (T5's encoder and cross-attention): every unmasked key. bias [Hq,Tq,Tk] or null is */                \
  /* added to the scaled scores (T5's relative position bias, shared across the batch). */                           \
  /* out [B,Tq,Hq,D]; lse [B,Hq,Tq] for backward (which takes Tcap = Tk). */                                         \
  X(void, attention_forward,                                                                                         \
    (ActIn q, ActIn k, ActIn v, const int64_t* mask, int64_t B, int64_t Tq, int64_t Tk, int64_t Tcap, int64_t Hq,    \
     int64_t Hkv, int64_t D, float scale, int64_t window, bool causal, const float* bias, ActOut out, float* lse))   \
  X(void, attention_backward,                                                                                        \
    (ActIn dout, ActIn q, ActIn k, ActIn v, ActIn out, const float* lse, const int64_t* mask, int64_t B, int64_t Tq, \
     int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, float scale, int64_t window, bool causal, const float* bias,    \
     ActOut dq, ActOut dk, ActOut dv))

PLF_DECLARE_OPS(PLF_ATTENTION_OPS)

namespace plf {
namespace cuda {
// Whether the CUDA attention for head size D takes activations of dtype t in place (the tensor-core
// kernels under matmul precision bf16/f16, for f32 or that precision's type); otherwise the binding
// stages them through f32.
bool attention_in_place(int64_t D, DType t);
// Whether attention_forward runs decoding's kernel (one query row, no bias; split over keys), which
// takes every activation dtype in place.
bool attention_decode(int64_t Tq, int64_t Hq, int64_t Hkv, int64_t D, bool bias);
}  // namespace cuda
}  // namespace plf
