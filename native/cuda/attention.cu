// Attention on CUDA, same semantics as native/cpu/attention.cpp: causal or not, padding mask, GQA,
// sliding window, additive [Hq, Tq, Tk] bias, KV cache. No [Tq, Tk] score matrix is ever stored.
// Head sizes up to 128 run tiled kernels (FlashAttention-2's structure in f32): a block keeps a tile
// of queries and streams key/value tiles through shared memory with an online softmax, so K and V
// are read once per query tile instead of once per query row. Backward recomputes probabilities from
// the saved log-sum-exp: one kernel per key tile accumulates dK/dV over every query (and every
// query head of a GQA group), another per query tile accumulates dQ — no atomics, deterministic.
// Larger heads use the row kernels: one warp per query row, dK/dV added atomically. Under matmul
// precision bf16/f16, head sizes up to 128 run on tensor cores instead (attention_tc.cuh: the same
// structure on wmma, operands rounded to bf16/f16, f32 accumulation and softmax).
#include "plf/ops.h"
#include "plf/linear.h"
#include "check.cuh"
#include <cstdlib>
#include <string>
#include "act.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#include "attention.cuh"
#include "attention_tc.cuh"
#include "attention_decode.cuh"

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
  fwd_k<DP><<<grid, kT, fwd_smem<DP>(), stream()>>>(q, k, v, mask, a, bias, out, lse);
}

template <typename E, int DP, DType T>
void forward_tc(CAct q, CAct k, CAct v, const int64_t* mask, const AttnDims& a, const float* bias, Act out,
                float* lse) {
  dim3 grid(unsigned((a.Tq + tcattn::QT - 1) / tcattn::QT), unsigned(a.Hq), unsigned(a.B));
  allow_smem(tcattn::fwd_k<E, DP, T>, tcattn::smem<E, DP>());
  tcattn::fwd_k<E, DP, T>
      <<<grid, tcattn::kT, tcattn::smem<E, DP>(), stream()>>>(q.p, k.p, v.p, mask, a, bias, out.p, lse);
}

template <typename E, int DP, DType T>
void backward_tc(CAct dout, CAct q, CAct k, CAct v, const float* lse, const float* delta, const int64_t* mask,
                 const AttnDims& a, const float* bias, Act dq, Act dk, Act dv) {
  allow_smem(tcattn::dkdv_k<E, DP, T>, tcattn::bwd_smem<E, DP>());
  allow_smem(tcattn::dq_k<E, DP, T>, tcattn::bwd_smem<E, DP>());
  dim3 kgrid(unsigned((a.Tk + tcattn::KT - 1) / tcattn::KT), unsigned(a.Hkv), unsigned(a.B));
  dim3 qgrid(unsigned((a.Tq + tcattn::QT - 1) / tcattn::QT), unsigned(a.Hq), unsigned(a.B));
  tcattn::dkdv_k<E, DP, T><<<kgrid, tcattn::kT, tcattn::bwd_smem<E, DP>(), stream()>>>(
      dout.p, q.p, k.p, v.p, lse, delta, mask, a, bias, dk.p, dv.p);
  tcattn::dq_k<E, DP, T><<<qgrid, tcattn::kT, tcattn::bwd_smem<E, DP>(), stream()>>>(dout.p, q.p, k.p, v.p, lse, delta,
                                                                                     mask, a, bias, dq.p);
}

template <int DP>
void backward(const float* dout, const float* q, const float* k, const float* v, const float* lse, const float* delta,
              const int64_t* mask, const AttnDims& a, const float* bias, float* dq, float* dk, float* dv) {
  allow_smem(dkdv_k<DP>, bwd_smem<DP>());
  allow_smem(dq_k<DP>, bwd_smem<DP>());
  dkdv_k<DP><<<dim3(unsigned((a.Tk + BK - 1) / BK), unsigned(a.Hkv), unsigned(a.B)), kT, bwd_smem<DP>(), stream()>>>(
      dout, q, k, v, lse, delta, mask, a, bias, dk, dv);
  dq_k<DP><<<dim3(unsigned((a.Tq + BQ - 1) / BQ), unsigned(a.Hq), unsigned(a.B)), kT, bwd_smem<DP>(), stream()>>>(
      dout, q, k, v, lse, delta, mask, a, bias, dq);
}
}  // namespace tiled

static void check_dims(int64_t D, const char* op) {
  if (D > 32 * kMaxPerLane)
    throw std::runtime_error(std::string(op) + ": head size " + std::to_string(D) + " > 256 is not supported on CUDA");
}

// the tensor-core path: matmul precision bf16/f16 and D <= 128, unless PLF_ATTENTION_TC=0 keeps the f32 kernels
static bool use_tc(int64_t D) {
  static const bool off = [] {
    const char* e = std::getenv("PLF_ATTENTION_TC");
    return e && std::string(e) == "0";
  }();
  return !off && matmul_precision() != MatmulPrecision::Highest && D <= 128;
}
bool attention_in_place(int64_t D, DType t) {
  if (!use_tc(D)) return false;
  return t == DType::F32 || t == (matmul_precision() == MatmulPrecision::F16 ? DType::F16 : DType::BF16);
}
// the f32 kernels' inputs (the binding stages 16-bit ones unless attention_in_place)
static const float* f32_of(CAct a, const char* op) {
  if (a.p && a.t != DType::F32) throw std::logic_error(std::string(op) + ": a 16-bit tensor reached the f32 kernels");
  return static_cast<const float*>(a.p);
}
static float* f32_of(Act a, const char* op) { return const_cast<float*>(f32_of(CAct(a), op)); }

// f(E, DP, T) for the tensor-core kernels: E the operand type, DP the padded head size, T the
// activations' dtype (f32 or E's own, see attention_in_place)
template <typename F>
static void tc_dispatch(int64_t D, DType t, F&& f) {
  auto with_e = [&](auto e) {
    using E = decltype(e);
    constexpr DType own = std::is_same<E, __half>::value ? DType::F16 : DType::BF16;
    auto with_dp = [&](auto dp) {
      if (t == DType::F32)
        f(e, dp, DTypeTag<DType::F32>{});
      else
        f(e, dp, DTypeTag<own>{});
    };
    if (D <= 64)
      with_dp(std::integral_constant<int, 64>{});
    else
      with_dp(std::integral_constant<int, 128>{});
  };
  if (matmul_precision() == MatmulPrecision::F16)
    with_e(__half{});
  else
    with_e(__nv_bfloat16{});
}

// decoding's kernel (attention_decode.cuh): one query row, no bias, head size <= 128, <= 8 query
// heads per kv head, unless PLF_ATTENTION_DECODE=0
bool attention_decode(int64_t Tq, int64_t Hq, int64_t Hkv, int64_t D, bool bias) {
  static const bool off = [] {
    const char* e = std::getenv("PLF_ATTENTION_DECODE");
    return e && std::string(e) == "0";
  }();
  return !off && Tq == 1 && !bias && D <= 32 * decode::kPer && Hkv > 0 && Hq % Hkv == 0 && Hq / Hkv <= decode::kMaxG;
}

namespace decode {
// splits so that about two blocks per SM stream the cache; one split (no combine pass) for short ones
static void forward(CAct q, CAct k, CAct v, const int64_t* mask, const AttnDims& a, Act out, float* lse) {
  const long long per = a.Hkv * a.B, want = std::max(1LL, (2LL * sm_count() + per - 1) / per);
  const long long chunk = std::max(64LL, (a.Tk + want - 1) / want), splits = std::max(1LL, (a.Tk + chunk - 1) / chunk);
  if (splits > 65535) throw std::runtime_error("attention_forward (decode): too many keys");
  Scratch<float> part(splits > 1 ? size_t(a.B * a.Hq * splits * (a.D + 2)) : 0);
  const dim3 grid(unsigned(splits), unsigned(a.Hkv), unsigned(a.B));
  by_dtype(q.t, [&](auto t) {
    constexpr DType T = PLF_DT(t);
    by_group(a.Hq / a.Hkv, [&](auto gm) {
      decode_k<decltype(gm)::value, T>
          <<<grid, kT, 0, stream()>>>(q.p, k.p, v.p, mask, a, chunk, out.p, lse, part.get());
    });
    if (splits > 1)
      decode_combine_k<T><<<dim3(unsigned(a.Hq), unsigned(a.B)), 128, 0, stream()>>>(part.get(), splits, a, out.p, lse);
  });
}
}  // namespace decode

void attention_forward(CAct q, CAct k, CAct v, const int64_t* mask, int64_t B, int64_t Tq, int64_t Tk, int64_t Tcap,
                       int64_t Hq, int64_t Hkv, int64_t D, float scale, int64_t window, bool causal, const float* bias,
                       Act out, float* lse) {
  check_dims(D, "attention_forward");
  AttnDims a{B, Tq, Tk, Tcap, Hq, Hkv, D, scale, window, causal};
  long long rows = B * Hq * Tq;
  if (!rows) return;
  // decoding: split over keys, in place in any dtype (the binding stages nothing for it)
  if (Tk > 0 && attention_decode(Tq, Hq, Hkv, D, bias) && q.t == k.t && q.t == v.t && q.t == out.t) {
    decode::forward(q, k, v, mask, a, out, lse);
    check_launch("attention_forward");
    return;
  }
  if (use_tc(D)) {  // tensor cores, operands rounded to bf16/f16
    tc_dispatch(D, q.t, [&](auto e, auto dp, auto t) {
      tiled::forward_tc<decltype(e), decltype(dp)::value, PLF_DT(t)>(q, k, v, mask, a, bias, out, lse);
    });
    check_launch("attention_forward");
    return;
  }
  const char* op = "attention_forward";
  const float *qf = f32_of(q, op), *kf = f32_of(k, op), *vf = f32_of(v, op);
  float* of = f32_of(out, op);
  if (D <= 32)
    tiled::forward<32>(qf, kf, vf, mask, a, bias, of, lse);
  else if (D <= 64)
    tiled::forward<64>(qf, kf, vf, mask, a, bias, of, lse);
  else if (D <= 128)
    tiled::forward<128>(qf, kf, vf, mask, a, bias, of, lse);
  else
    attn_fwd_k<<<blocks_for(rows * 32, 256), 256, 0, stream()>>>(qf, kf, vf, mask, a, bias, of, lse);
  check_launch("attention_forward");
}

void attention_backward(CAct dout, CAct q, CAct k, CAct v, CAct out, const float* lse, const int64_t* mask, int64_t B,
                        int64_t Tq, int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, float scale, int64_t window,
                        bool causal, const float* bias, Act dq, Act dk, Act dv) {
  check_dims(D, "attention_backward");
  AttnDims a{B, Tq, Tk, Tk, Hq, Hkv, D, scale, window, causal};
  long long rows = B * Hq * Tq;
  const char* op = "attention_backward";
  if (D <= 128 && rows) {  // every dK/dV/dQ element is written: no zeroing
    Scratch<float> delta{size_t(rows)};
    by_dtype(dout.t, [&](auto t) {
      tiled::delta_k<PLF_DT(t)><<<blocks_for(rows * 32, 256), 256, 0, stream()>>>(dout.p, out.p, a, delta.get());
    });
    if (use_tc(D)) {
      tc_dispatch(D, q.t, [&](auto e, auto dp, auto t) {
        tiled::backward_tc<decltype(e), decltype(dp)::value, PLF_DT(t)>(dout, q, k, v, lse, delta.get(), mask, a, bias,
                                                                        dq, dk, dv);
      });
      check_launch("attention_backward");
      return;
    }
    const float *gf = f32_of(dout, op), *qf = f32_of(q, op), *kf = f32_of(k, op), *vf = f32_of(v, op);
    float *dqf = f32_of(dq, op), *dkf = f32_of(dk, op), *dvf = f32_of(dv, op);
    if (D <= 32)
      tiled::backward<32>(gf, qf, kf, vf, lse, delta.get(), mask, a, bias, dqf, dkf, dvf);
    else if (D <= 64)
      tiled::backward<64>(gf, qf, kf, vf, lse, delta.get(), mask, a, bias, dqf, dkf, dvf);
    else
      tiled::backward<128>(gf, qf, kf, vf, lse, delta.get(), mask, a, bias, dqf, dkf, dvf);
    check_launch("attention_backward");
    return;
  }
  float *dkf = f32_of(dk, op), *dvf = f32_of(dv, op);
  check(cudaMemsetAsync(dkf, 0, size_t(B * Tk * Hkv * D) * sizeof(float), stream()), "attention_backward: zero dk");
  check(cudaMemsetAsync(dvf, 0, size_t(B * Tk * Hkv * D) * sizeof(float), stream()), "attention_backward: zero dv");
  if (rows)
    attn_bwd_k<<<blocks_for(rows * 32, 256), 256, 0, stream()>>>(f32_of(dout, op), f32_of(q, op), f32_of(k, op),
                                                                 f32_of(v, op), f32_of(out, op), lse, mask, a, bias,
                                                                 f32_of(dq, op), dkf, dvf);
  check_launch("attention_backward");
}

}  // namespace cuda
}  // namespace plf
