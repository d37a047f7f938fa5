// Attention on CUDA, same semantics as native/cpu/attention.cpp: causal or not, padding mask, GQA,
// sliding window, additive [Hq, Tq, Tk] bias, KV cache. No [Tq, Tk] score matrix is ever stored.
// Head sizes up to 128 run tiled kernels (FlashAttention-2's structure in f32): a block keeps a tile
// of queries and streams key/value tiles through shared memory with an online softmax, so K and V
// are read once per query tile instead of once per query row. Backward recomputes probabilities from
// the saved log-sum-exp: one kernel per key tile accumulates dK/dV over every query (and every
// query head of a GQA group), another per query tile accumulates dQ — no atomics, deterministic.
// Larger heads use the row kernels: one warp per query row, dK/dV added atomically.
#include "plf/ops.h"
#include "check.cuh"
#include "attention.cuh"

namespace plf {
namespace cuda {

constexpr int kMaxPerLane = 8;  // D <= 256

__global__ void attn_fwd_k(const float* q, const float* k, const float* v, const int64_t* mask, AttnDims a,
                           const float* bias, float* out, float* lse) {
  long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x & 31;
  if (row >= a.B * a.Hq * a.Tq) return;
  long long i = row % a.Tq, h = (row / a.Tq) % a.Hq, b = row / (a.Tq * a.Hq);
  long long hk = h / (a.Hq / a.Hkv), t = a.Tk - a.Tq + i, n = a.causal ? t + 1 : a.Tk;
  const float* qt = q + ((b * a.Tq + i) * a.Hq + h) * a.D;
  const float* bt = bias ? bias + (h * a.Tq + i) * a.Tk : nullptr;
  float qr[kMaxPerLane], acc[kMaxPerLane];
  for (int j = 0; j < kMaxPerLane; j++) {
    long long d = lane + 32LL * j;
    qr[j] = d < a.D ? qt[d] : 0.0f;
    acc[j] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (long long s = 0; s < n; s++) {
    if (!allowed(mask, b, a.Tcap, t, s, a.window, a.causal)) continue;
    const float* ks = k + ((b * a.Tcap + s) * a.Hkv + hk) * a.D;
    float part = 0.0f;
    for (int j = 0; j < kMaxPerLane; j++) {
      long long d = lane + 32LL * j;
      if (d < a.D) part += qr[j] * ks[d];
    }
    float sc = warp_sum(part) * a.scale + (bt ? bt[s] : 0.0f);
    float mn = fmaxf(m, sc), corr = expf(m - mn), p = expf(sc - mn);
    l = l * corr + p;
    const float* vs = v + ((b * a.Tcap + s) * a.Hkv + hk) * a.D;
    for (int j = 0; j < kMaxPerLane; j++) {
      long long d = lane + 32LL * j;
      if (d < a.D) acc[j] = acc[j] * corr + p * vs[d];
    }
    m = mn;
  }
  float* ot = out + ((b * a.Tq + i) * a.Hq + h) * a.D;
  for (int j = 0; j < kMaxPerLane; j++) {
    long long d = lane + 32LL * j;
    if (d < a.D) ot[d] = l > 0.0f ? acc[j] / l : 0.0f;
  }
  if (lane == 0) lse[(b * a.Hq + h) * a.Tq + i] = l > 0.0f ? m + logf(l) : -INFINITY;
}

__global__ void attn_bwd_k(const float* dout, const float* q, const float* k, const float* v, const float* out,
                           const float* lse, const int64_t* mask, AttnDims a, const float* bias, float* dq, float* dk,
                           float* dv) {
  long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x & 31;
  if (row >= a.B * a.Hq * a.Tq) return;
  long long i = row % a.Tq, h = (row / a.Tq) % a.Hq, b = row / (a.Tq * a.Hq);
  long long hk = h / (a.Hq / a.Hkv), t = a.Tk - a.Tq + i, n = a.causal ? t + 1 : a.Tk;
  long long base = ((b * a.Tq + i) * a.Hq + h) * a.D;
  const float* bt = bias ? bias + (h * a.Tq + i) * a.Tk : nullptr;
  float qr[kMaxPerLane], gr[kMaxPerLane], dqr[kMaxPerLane];
  float dt = 0.0f;
  for (int j = 0; j < kMaxPerLane; j++) {
    long long d = lane + 32LL * j;
    qr[j] = d < a.D ? q[base + d] : 0.0f;
    gr[j] = d < a.D ? dout[base + d] : 0.0f;
    dqr[j] = 0.0f;
    if (d < a.D) dt += gr[j] * out[base + d];
  }
  dt = warp_sum(dt);
  float L = lse[(b * a.Hq + h) * a.Tq + i];
  if (L != -INFINITY) {
    for (long long s = 0; s < n; s++) {
      if (!allowed(mask, b, a.Tk, t, s, a.window, a.causal)) continue;
      long long kv = ((b * a.Tk + s) * a.Hkv + hk) * a.D;
      float pq = 0.0f, pv = 0.0f;
      for (int j = 0; j < kMaxPerLane; j++) {
        long long d = lane + 32LL * j;
        if (d < a.D) {
          pq += qr[j] * k[kv + d];
          pv += gr[j] * v[kv + d];
        }
      }
      pq = warp_sum(pq);
      pv = warp_sum(pv);
      float p = expf(pq * a.scale + (bt ? bt[s] : 0.0f) - L);
      float ds = p * (pv - dt) * a.scale;
      for (int j = 0; j < kMaxPerLane; j++) {
        long long d = lane + 32LL * j;
        if (d < a.D) {
          dqr[j] += ds * k[kv + d];
          atomicAdd(dk + kv + d, ds * qr[j]);
          atomicAdd(dv + kv + d, p * gr[j]);
        }
      }
    }
  }
  for (int j = 0; j < kMaxPerLane; j++) {
    long long d = lane + 32LL * j;
    if (d < a.D) dq[base + d] = dqr[j];
  }
}

namespace tiled {
template <typename K>
void allow_smem(K kernel, size_t bytes) {
  if (bytes > 48 * 1024)
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)),
          "attention: shared memory");
}

template <int DP>
void forward(const float* q, const float* k, const float* v, const int64_t* mask, const AttnDims& a, const float* bias,
             float* out, float* lse) {
  dim3 grid(unsigned((a.Tq + FQ - 1) / FQ), unsigned(a.Hq), unsigned(a.B));
  allow_smem(fwd_k<DP>, fwd_smem<DP>());
  fwd_k<DP><<<grid, kT, fwd_smem<DP>()>>>(q, k, v, mask, a, bias, out, lse);
}

template <int DP>
void backward(const float* dout, const float* q, const float* k, const float* v, const float* lse, const float* delta,
              const int64_t* mask, const AttnDims& a, const float* bias, float* dq, float* dk, float* dv) {
  allow_smem(dkdv_k<DP>, bwd_smem<DP>());
  allow_smem(dq_k<DP>, bwd_smem<DP>());
  dkdv_k<DP><<<dim3(unsigned((a.Tk + BK - 1) / BK), unsigned(a.Hkv), unsigned(a.B)), kT, bwd_smem<DP>()>>>(
      dout, q, k, v, lse, delta, mask, a, bias, dk, dv);
  dq_k<DP><<<dim3(unsigned((a.Tq + BQ - 1) / BQ), unsigned(a.Hq), unsigned(a.B)), kT, bwd_smem<DP>()>>>(
      dout, q, k, v, lse, delta, mask, a, bias, dq);
}
}  // namespace tiled

static void check_dims(int64_t D, const char* op) {
  if (D > 32 * kMaxPerLane)
    throw std::runtime_error(std::string(op) + ": head size " + std::to_string(D) + " > 256 is not supported on CUDA");
}

void attention_forward(const float* q, const float* k, const float* v, const int64_t* mask, int64_t B, int64_t Tq,
                       int64_t Tk, int64_t Tcap, int64_t Hq, int64_t Hkv, int64_t D, float scale, int64_t window,
                       bool causal, const float* bias, float* out, float* lse) {
  check_dims(D, "attention_forward");
  AttnDims a{B, Tq, Tk, Tcap, Hq, Hkv, D, scale, window, causal};
  long long rows = B * Hq * Tq;
  if (!rows) return;
  if (D <= 32)
    tiled::forward<32>(q, k, v, mask, a, bias, out, lse);
  else if (D <= 64)
    tiled::forward<64>(q, k, v, mask, a, bias, out, lse);
  else if (D <= 128)
    tiled::forward<128>(q, k, v, mask, a, bias, out, lse);
  else
    attn_fwd_k<<<blocks_for(rows * 32, 256), 256>>>(q, k, v, mask, a, bias, out, lse);
  check_launch("attention_forward");
}

void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const int64_t* mask, int64_t B, int64_t Tq, int64_t Tk, int64_t Hq,
                        int64_t Hkv, int64_t D, float scale, int64_t window, bool causal, const float* bias, float* dq,
                        float* dk, float* dv) {
  check_dims(D, "attention_backward");
  AttnDims a{B, Tq, Tk, Tk, Hq, Hkv, D, scale, window, causal};
  long long rows = B * Hq * Tq;
  if (D <= 128 && rows) {  // every dK/dV/dQ element is written: no zeroing
    Scratch<float> delta{size_t(rows)};
    tiled::delta_k<<<blocks_for(rows * 32, 256), 256>>>(dout, out, a, delta.get());
    if (D <= 32)
      tiled::backward<32>(dout, q, k, v, lse, delta.get(), mask, a, bias, dq, dk, dv);
    else if (D <= 64)
      tiled::backward<64>(dout, q, k, v, lse, delta.get(), mask, a, bias, dq, dk, dv);
    else
      tiled::backward<128>(dout, q, k, v, lse, delta.get(), mask, a, bias, dq, dk, dv);
    check_launch("attention_backward");
    return;
  }
  check(cudaMemsetAsync(dk, 0, size_t(B * Tk * Hkv * D) * sizeof(float), 0), "attention_backward: zero dk");
  check(cudaMemsetAsync(dv, 0, size_t(B * Tk * Hkv * D) * sizeof(float), 0), "attention_backward: zero dv");
  if (rows) attn_bwd_k<<<blocks_for(rows * 32, 256), 256>>>(dout, q, k, v, out, lse, mask, a, bias, dq, dk, dv);
  check_launch("attention_backward");
}

}  // namespace cuda
}  // namespace plf
