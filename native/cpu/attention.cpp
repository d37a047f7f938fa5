// Causal multi-head attention on the CPU with padding mask, GQA and sliding window.
// Scores are computed one query row at a time (a [T] buffer), never as a T×T matrix; backward
// recomputes probabilities from the saved log-sum-exp. Work is split by (batch, kv head) so
// the query heads sharing a kv head accumulate dK/dV without races.
#include "plf/ops.h"
#include <cmath>
#include <limits>
#include <vector>

namespace plf {
namespace cpu {

// t and s are absolute positions; the mask row has `stride` entries.
static inline bool allowed(const int64_t* mask, int64_t b, int64_t stride, int64_t t, int64_t s, int64_t window) {
  if (s > t) return false;
  if (window > 0 && t - s >= window) return false;
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
static inline void transpose_head(const float* x, int64_t b, int64_t T, int64_t Tcap, int64_t H, int64_t h, int64_t D, float* xt) {
  for (int64_t s = 0; s < T; s++) {
    const float* row = x + ((b * Tcap + s) * H + h) * D;
    for (int64_t d = 0; d < D; d++) xt[d * T + s] = row[d];
  }
}

__attribute__((target_clones("avx2", "default")))
void attention_forward(const float* q, const float* k, const float* v, const int64_t* mask, int64_t B, int64_t Tq,
                       int64_t Tk, int64_t Tcap, int64_t Hq, int64_t Hkv, int64_t D, float scale, int64_t window,
                       float* out, float* lse) {
  int64_t group = Hq / Hkv, off = Tk - Tq;
  const float NEG = -std::numeric_limits<float>::infinity();
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int64_t b = 0; b < B; b++)
    for (int64_t hk = 0; hk < Hkv; hk++) {
      std::vector<float> sc(static_cast<size_t>(Tk)), KT(static_cast<size_t>(D * Tk));
      transpose_head(k, b, Tk, Tcap, Hkv, hk, D, KT.data());
      for (int64_t h = hk * group; h < (hk + 1) * group; h++)
        for (int64_t i = 0; i < Tq; i++) {
          int64_t t = off + i;
          const float* qt = q + ((b * Tq + i) * Hq + h) * D;
          float* ot = out + ((b * Tq + i) * Hq + h) * D;
          row_dots(qt, KT.data(), Tk, D, t + 1, sc.data());
          float mx = NEG;
          for (int64_t s = 0; s <= t; s++) {
            if (!allowed(mask, b, Tcap, t, s, window)) { sc[s] = NEG; continue; }
            sc[s] *= scale;
            mx = std::max(mx, sc[s]);
          }
          for (int64_t d = 0; d < D; d++) ot[d] = 0.0f;
          if (mx == NEG) {  // no visible key (a left-padding position)
            lse[(b * Hq + h) * Tq + i] = NEG;
            continue;
          }
          double sum = 0.0;
          for (int64_t s = 0; s <= t; s++) {
            float e = sc[s] == NEG ? 0.0f : std::exp(sc[s] - mx);
            sc[s] = e;
            sum += e;
          }
          float inv = float(1.0 / sum);
          for (int64_t s = 0; s <= t; s++) {
            if (sc[s] == 0.0f) continue;
            float p = sc[s] * inv;
            const float* vs = v + ((b * Tcap + s) * Hkv + hk) * D;
#pragma omp simd
            for (int64_t d = 0; d < D; d++) ot[d] += p * vs[d];
          }
          lse[(b * Hq + h) * Tq + i] = mx + float(std::log(sum));
        }
    }
}

__attribute__((target_clones("avx2", "default")))
void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const int64_t* mask, int64_t B, int64_t T, int64_t Hq, int64_t Hkv,
                        int64_t D, float scale, int64_t window, float* dq, float* dk, float* dv) {
  int64_t group = Hq / Hkv;
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int64_t b = 0; b < B; b++)
    for (int64_t hk = 0; hk < Hkv; hk++) {
      std::vector<float> KT(static_cast<size_t>(D * T)), VT(static_cast<size_t>(D * T));
      std::vector<float> qk(static_cast<size_t>(T)), gv(static_cast<size_t>(T));
      transpose_head(k, b, T, T, Hkv, hk, D, KT.data());
      transpose_head(v, b, T, T, Hkv, hk, D, VT.data());
      for (int64_t s = 0; s < T; s++)
        for (int64_t d = 0; d < D; d++) {
          dk[((b * T + s) * Hkv + hk) * D + d] = 0.0f;
          dv[((b * T + s) * Hkv + hk) * D + d] = 0.0f;
        }
      for (int64_t h = hk * group; h < (hk + 1) * group; h++)
        for (int64_t t = 0; t < T; t++) {
          size_t row = size_t(((b * T + t) * Hq + h) * D);
          const float *qt = q + row, *gt = dout + row, *ot = out + row;
          float* dqt = dq + row;
          for (int64_t d = 0; d < D; d++) dqt[d] = 0.0f;
          float l = lse[(b * Hq + h) * T + t];
          if (l == -std::numeric_limits<float>::infinity()) continue;
          float Dt = dot(gt, ot, D);
          row_dots(qt, KT.data(), T, D, t + 1, qk.data());
          row_dots(gt, VT.data(), T, D, t + 1, gv.data());
          for (int64_t s = 0; s <= t; s++) {
            if (!allowed(mask, b, T, t, s, window)) continue;
            size_t kv = size_t(((b * T + s) * Hkv + hk) * D);
            const float *ks = k + kv;
            float p = std::exp(qk[s] * scale - l);
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
