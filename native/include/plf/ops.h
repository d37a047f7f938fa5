// The transformer ops: embedding, norms, RoPE, attention, activations, losses, conversions.
// Activations are f32 [rows, cols] row-major; index tensors arrive as int64.
#pragma once
#include "common.h"

namespace plf {
namespace cpu {
// embedding: ids [n] -> out [n, dim]; backward scatter-adds into dtable [vocab, dim]
void embedding_forward(const int64_t* ids, int64_t n, const float* table, int64_t dim, float* out);
void embedding_backward(const int64_t* ids, int64_t n, const float* dout, int64_t dim, float* dtable);

// rmsnorm: y = x / sqrt(mean(x²) + eps) · w ; rstd [rows] saved for backward
void rmsnorm_forward(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* y, float* rstd);
void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, int64_t rows, int64_t dim,
                      float* dx, float* dw, bool accumulate);
// layernorm with bias; mean and rstd [rows] saved for backward
void layernorm_forward(const float* x, const float* w, const float* b, int64_t rows, int64_t dim, float eps,
                       float* y, float* mean, float* rstd);
void layernorm_backward(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                        int64_t rows, int64_t dim, float* dx, float* dw, float* db, bool accumulate);

// RoPE (HF rotate_half layout) on x [B, T, H, D] over the first `rot` dims, positions [B, T].
// backward = forward with the sine negated; in-place use (y == x) is allowed.
void rope_forward(const float* x, const int64_t* pos, int64_t B, int64_t T, int64_t H, int64_t D, int64_t rot,
                  double theta, bool inverse, float* y);

// Attention. q [B,Tq,Hq,D]; k/v [B,Tcap,Hkv,D] of which the first Tk positions are valid (a KV
// cache; Tk = Tcap in training); mask [B,Tcap] (1 keep, 0 pad) or null. Causal: query i sits at
// absolute position Tk - Tq + i and sees keys up to it; window > 0 keeps keys with t - s < window.
// Not causal (T5's encoder and cross-attention): every unmasked key. bias [Hq,Tq,Tk] or null is
// added to the scaled scores (T5's relative position bias, shared across the batch).
// out [B,Tq,Hq,D]; lse [B,Hq,Tq] for backward (which takes Tcap = Tk).
void attention_forward(const float* q, const float* k, const float* v, const int64_t* mask, int64_t B, int64_t Tq,
                       int64_t Tk, int64_t Tcap, int64_t Hq, int64_t Hkv, int64_t D, float scale, int64_t window,
                       bool causal, const float* bias, float* out, float* lse);
void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const int64_t* mask, int64_t B, int64_t Tq, int64_t Tk, int64_t Hq,
                        int64_t Hkv, int64_t D, float scale, int64_t window, bool causal, const float* bias,
                        float* dq, float* dk, float* dv);

// activations (elementwise over n)
void swiglu_forward(const float* gate, const float* up, int64_t n, float* y);
void swiglu_backward(const float* dy, const float* gate, const float* up, int64_t n, float* dgate, float* dup);
void gelu_forward(const float* x, int64_t n, bool tanh_approx, float* y);
void gelu_backward(const float* dy, const float* x, int64_t n, bool tanh_approx, float* dx);
void geglu_forward(const float* gate, const float* up, int64_t n, bool tanh_approx, float* y);
void geglu_backward(const float* dy, const float* gate, const float* up, int64_t n, bool tanh_approx, float* dgate,
                    float* dup);
void relu_forward(const float* x, int64_t n, float* y);
void relu_backward(const float* dy, const float* x, int64_t n, float* dx);
void tanh_forward(const float* x, int64_t n, float* y);
void tanh_backward(const float* dy, const float* y, int64_t n, float* dx);
void scale_forward(const float* x, int64_t n, float alpha, float* y);
void add_forward(const float* a, const float* b, int64_t n, float* y);

// losses: mean over counted rows; return the loss
double cross_entropy_forward(const float* logits, const int64_t* targets, int64_t rows, int64_t vocab,
                             int64_t ignore_index, int64_t* count);
void cross_entropy_backward(const float* logits, const int64_t* targets, int64_t rows, int64_t vocab,
                            int64_t ignore_index, float dloss, float* dlogits);
double bce_logits_forward(const float* x, const float* y, int64_t n);
void bce_logits_backward(const float* x, const float* y, int64_t n, float dloss, float* dx);

// rows gather: x [B, T, H], idx [B] -> y [B, H]; backward writes (or adds into) dx
void gather_rows_forward(const float* x, const int64_t* idx, int64_t B, int64_t T, int64_t H, float* y);
void gather_rows_backward(const float* dy, const int64_t* idx, int64_t B, int64_t T, int64_t H, float* dx);

// conversions between f32 / f16 / bf16 (round to nearest even)
void convert(DType from, const void* src, DType to, void* dst, int64_t n);
}  // namespace cpu

namespace cuda {
void convert(DType from, const void* src, DType to, void* dst, int64_t n);
}
}  // namespace plf

namespace plf {
namespace cpu {
// Column slices of a row-major [R, C] matrix (e.g. q/k/v out of a fused projection):
// y [R, L] = x[:, start:start+L]; backward adds dy back into those columns of dx.
void slice_cols_forward(const float* x, int64_t R, int64_t C, int64_t start, int64_t L, float* y);
void slice_cols_backward(const float* dy, int64_t R, int64_t C, int64_t start, int64_t L, float* dx);
}  // namespace cpu
}  // namespace plf
