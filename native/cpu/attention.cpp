// Multi-head attention on the CPU: causal (decoders) or not (T5's encoder and cross-attention),
// with padding mask, GQA, sliding window and an optional additive score bias (T5's relative positions).
// Scores are computed one query row at a time (a [T] buffer), never as a T×T matrix; backward
// recomputes probabilities from the saved log-sum-exp. Work is split by (batch, kv head) so
// the query heads sharing a kv head accumulate dK/dV without races.
#include "plf/ops.h"
#include <cmath>
#include <limits>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace plf {
namespace cpu {

// t and s are absolute positions; the mask row has `stride` entries.
static inline bool allowed(const int64_t* mask, int64_t b, int64_t stride, int64_t t, int64_t s, int64_t window,
                           bool causal) {
  if (causal && s > t) return false;
  if (causal && window > 0 && t - s >= window) return false;
  return !mask || mask[b * stride + s] != 0;
}

static inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;  // sequential: the fixtures' 3-step AdamW parity sits close to its 1e-3 bound
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

// Dot products of one query row with keys [0, n): sc[s] = Σ_d q[d]·KT[d][s], accumulated over d
// in order for every s at once (vectorizes over keys), so each score has the exact rounding of
// a sequential dot product; KT is the head's keys transposed, [D][ld].
static inline void row_dots(const float* q, const float* KT, int64_t ld, int64_t D, int64_t n, float* sc) {
  for (int64_t s = 0; s < n; s++) sc[s] = 0.0f;
  for (int64_t d = 0; d < D; d++) {
    const float qd = q[d];
    const float* kd = KT + d * ld;
    for (int64_t s = 0; s < n; s++) sc[s] += qd * kd[s];
  }
}

// [T, H, D] rows of one head → [D][T] (keys or values transposed for row_dots)
static inline void transpose_head(const float* x, int64_t b, int64_t T, int64_t Tcap, int64_t H, int64_t h, int64_t D,
                                  float* xt) {
  for (int64_t s = 0; s < T; s++) {
    const float* row = x + ((b * Tcap + s) * H + h) * D;
    for (int64_t d = 0; d < D; d++) xt[d * T + s] = row[d];
  }
}

// One query row per batch row against its cache: scores [Hq][n] from each key row read once
// (every head's dot summed over d in order, as row_dots), then per head the same softmax and the
// same ascending-s accumulation of values as the general path: bit-identical results.
__attribute__((target_clones("avx2", "default"))) static void decode_row(const float* q, const float* k, const float* v,
                                                                         const int64_t* mask, int64_t b, int64_t Tk,
                                                                         int64_t Tcap, int64_t Hq, int64_t Hkv,
                                                                         int64_t D, float scale, int64_t window,
                                                                         bool causal, float* out, float* lse) {
  const float NEG = -std::numeric_limits<float>::infinity();
  const int64_t group = Hq / Hkv, t = Tk - 1, n = causal ? t + 1 : Tk;
  std::vector<float> sc(static_cast<size_t>(Hq * n));
  std::vector<float> mx(static_cast<size_t>(Hq), NEG), inv(static_cast<size_t>(Hq), 0.0f);
  const float* qb = q + b * Hq * D;
  for (int64_t s = 0; s < n; s++) {
    const float* ks = k + (b * Tcap + s) * Hkv * D;
    const bool ok = allowed(mask, b, Tcap, t, s, window, causal);
    for (int64_t h = 0; h < Hq; h++) {
      if (!ok) {
        sc[h * n + s] = NEG;
        continue;
      }
      const float *qh = qb + h * D, *kh = ks + (h / group) * D;
      float a = 0.0f;
      for (int64_t d = 0; d < D; d++) a += qh[d] * kh[d];
      a *= scale;
      sc[h * n + s] = a;
      mx[h] = std::max(mx[h], a);
    }
  }
  float* ob = out + b * Hq * D;
  for (int64_t i = 0; i < Hq * D; i++) ob[i] = 0.0f;
  for (int64_t h = 0; h < Hq; h++) {
    if (mx[h] == NEG) {  // no visible key (a left-padding position)
      lse[b * Hq + h] = NEG;
      continue;
    }
    double sum = 0.0;
    float* sh = sc.data() + h * n;
    for (int64_t s = 0; s < n; s++) {
      float e = sh[s] == NEG ? 0.0f : std::exp(sh[s] - mx[h]);
      sh[s] = e;
      sum += e;
    }
    inv[h] = float(1.0 / sum);
    lse[b * Hq + h] = mx[h] + float(std::log(sum));
  }
  for (int64_t s = 0; s < n; s++) {
    const float* vs = v + (b * Tcap + s) * Hkv * D;
    for (int64_t h = 0; h < Hq; h++) {
      const float e = sc[h * n + s];
      if (e == 0.0f || mx[h] == NEG) continue;
      const float p = e * inv[h];
      const float* vh = vs + (h / group) * D;
      float* oh = ob + h * D;
#pragma omp simd
      for (int64_t d = 0; d < D; d++) oh[d] += p * vh[d];
    }
  }
}

__attribute__((target_clones("avx2", "default"))) void attention_forward(const float* q, const float* k, const float* v,
                                                                         const int64_t* mask, int64_t B, int64_t Tq,
                                                                         int64_t Tk, int64_t Tcap, int64_t Hq,
                                                                         int64_t Hkv, int64_t D, float scale,
                                                                         int64_t window, bool causal, const float* bias,
                                                                         float* out, float* lse) {
  int64_t group = Hq / Hkv, off = Tk - Tq;
  const float NEG = -std::numeric_limits<float>::infinity();
  auto head = [&](int64_t b, int64_t hk) {
    {
      std::vector<float> sc(static_cast<size_t>(Tk)), KT(static_cast<size_t>(D * Tk));
      transpose_head(k, b, Tk, Tcap, Hkv, hk, D, KT.data());
      for (int64_t h = hk * group; h < (hk + 1) * group; h++)
        for (int64_t i = 0; i < Tq; i++) {
          const int64_t t = off + i, n = causal ? t + 1 : Tk;  // keys [0, n) may be visible
          const float* qt = q + ((b * Tq + i) * Hq + h) * D;
          float* ot = out + ((b * Tq + i) * Hq + h) * D;
          const float* bt = bias ? bias + (h * Tq + i) * Tk : nullptr;
          row_dots(qt, KT.data(), Tk, D, n, sc.data());
          float mx = NEG;
          for (int64_t s = 0; s < n; s++) {
            if (!allowed(mask, b, Tcap, t, s, window, causal)) {
              sc[s] = NEG;
              continue;
            }
            sc[s] *= scale;
            if (bt) sc[s] += bt[s];
            mx = std::max(mx, sc[s]);
          }
          for (int64_t d = 0; d < D; d++) ot[d] = 0.0f;
          if (mx == NEG) {  // no visible key (a left-padding position)
            lse[(b * Hq + h) * Tq + i] = NEG;
            continue;
          }
          double sum = 0.0;
          for (int64_t s = 0; s < n; s++) {
            float e = sc[s] == NEG ? 0.0f : std::exp(sc[s] - mx);
            sc[s] = e;
            sum += e;
          }
          float inv = float(1.0 / sum);
          for (int64_t s = 0; s < n; s++) {
            if (sc[s] == 0.0f) continue;
            float p = sc[s] * inv;
            const float* vs = v + ((b * Tcap + s) * Hkv + hk) * D;
#pragma omp simd
            for (int64_t d = 0; d < D; d++) ot[d] += p * vs[d];
          }
          lse[(b * Hq + h) * Tq + i] = mx + float(std::log(sum));
        }
    }
  };
#ifdef _OPENMP
  const int64_t threads = omp_get_max_threads();
#else
  const int64_t threads = 1;
#endif
  if (Tq == 1 && !bias && B >= threads) {
    // decoding a batch: one task per row, reading each cached position's keys and values once
    // for all heads (a KV cache larger than the last-level cache streams from memory once per
    // step instead of once per head)
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < B; b++) decode_row(q, k, v, mask, b, Tk, Tcap, Hq, Hkv, D, scale, window, causal, out, lse);
  } else {
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int64_t b = 0; b < B; b++)
      for (int64_t hk = 0; hk < Hkv; hk++) head(b, hk);
  }
}

__attribute__((target_clones("avx2", "default"))) void attention_backward(
    const float* dout, const float* q, const float* k, const float* v, const float* out, const float* lse,
    const int64_t* mask, int64_t B, int64_t Tq, int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, float scale,
    int64_t window, bool causal, const float* bias, float* dq, float* dk, float* dv) {
  int64_t group = Hq / Hkv, off = Tk - Tq;
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int64_t b = 0; b < B; b++)
    for (int64_t hk = 0; hk < Hkv; hk++) {
      std::vector<float> KT(static_cast<size_t>(D * Tk)), VT(static_cast<size_t>(D * Tk));
      std::vector<float> qk(static_cast<size_t>(Tk)), gv(static_cast<size_t>(Tk));
      transpose_head(k, b, Tk, Tk, Hkv, hk, D, KT.data());
      transpose_head(v, b, Tk, Tk, Hkv, hk, D, VT.data());
      for (int64_t s = 0; s < Tk; s++)
        for (int64_t d = 0; d < D; d++) {
          dk[((b * Tk + s) * Hkv + hk) * D + d] = 0.0f;
          dv[((b * Tk + s) * Hkv + hk) * D + d] = 0.0f;
        }
      for (int64_t h = hk * group; h < (hk + 1) * group; h++)
        for (int64_t i = 0; i < Tq; i++) {
          const int64_t t = off + i, n = causal ? t + 1 : Tk;
          size_t row = size_t(((b * Tq + i) * Hq + h) * D);
          const float *qt = q + row, *gt = dout + row, *ot = out + row;
          const float* bt = bias ? bias + (h * Tq + i) * Tk : nullptr;
          float* dqt = dq + row;
          for (int64_t d = 0; d < D; d++) dqt[d] = 0.0f;
          float l = lse[(b * Hq + h) * Tq + i];
          if (l == -std::numeric_limits<float>::infinity()) continue;
          float Dt = dot(gt, ot, D);
          row_dots(qt, KT.data(), Tk, D, n, qk.data());
          row_dots(gt, VT.data(), Tk, D, n, gv.data());
          for (int64_t s = 0; s < n; s++) {
            if (!allowed(mask, b, Tk, t, s, window, causal)) continue;
            size_t kv = size_t(((b * Tk + s) * Hkv + hk) * D);
            const float* ks = k + kv;
            float p = std::exp((bt ? qk[s] * scale + bt[s] : qk[s] * scale) - l);
            float ds = p * (gv[s] - Dt) * scale;
            float *dks = dk + kv, *dvs = dv + kv;
#pragma omp simd
            for (int64_t d = 0; d < D; d++) {
              dqt[d] += ds * ks[d];
              dks[d] += ds * qt[d];
              dvs[d] += p * gt[d];
            }
          }
        }
    }
}

}  // namespace cpu
}  // namespace plf
