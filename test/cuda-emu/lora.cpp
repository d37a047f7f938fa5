// LoRA's rank-r CUDA kernels (native/cuda/lora.cuh) on the emulator against plain double loops:
// xa = dropout(x)·Aᵀ and dxa = s·dy·B (rank_rows_k), dB and dA = dxaᵀ·dropout(x) accumulated over
// row chunks with atomics (rank_cols_k), y += s·xa·Bᵀ and dx += dropout'(dxa·A) (rank_expand_k),
// and decoding's xa = x·Aᵀ for a few rows and up to three adapters in one launch (rank_gemv_k).
// The full-size operand (x, dy; y, dx) also in bf16/f16, read and written in place: rank outputs
// against the loops on the same values, the expanded output within one ulp of the loops' rounded sum.
// Exits 1 when a value is off by more than 1e-5 relative to the largest (or the one ulp).
#include "emu.h"
#include "half.h"
#include "lora.cuh"
#include <cstdio>
#include <cstring>

using namespace plf;
using namespace plf::cuda;

using emu::randn;
static void check(const char* what, const std::vector<float>& got, const std::vector<double>& want) {
  double e = emu::max_rel(got, want);
  printf("%-60s %.2e\n", what, e);
  emu::expect(e <= 1e-5);
}
static float keep(uint64_t seed, long long i, float p) { return dropout_keep_scale(seed, i, p); }

template <int RM, DType T = DType::F32>
static void rows(long long M, long long K, int r, bool b_layout, float p, float beta) {
  emu::Buf Ab(T, randn(M * K));
  auto A = Ab.f32();
  auto S = randn(r * K), out = randn(M * r);
  long long srs = b_layout ? 1 : K, scs = b_layout ? r : 1;  // S(j, k) = S[j·srs + k·scs]
  std::vector<double> want(M * r);
  for (long long m = 0; m < M; m++)
    for (int j = 0; j < r; j++) {
      double s = 0;
      for (long long k = 0; k < K; k++) s += double(A[m * K + k]) * keep(5, m * K + k, p) * S[j * srs + k * scs];
      want[m * r + j] = 0.7 * s + beta * out[m * r + j];
    }
  emu::launch(dim3(unsigned((M * 32 + 255) / 256)), dim3(256), 0,
              [&] { rank_rows_k<RM, T>(M, K, r, 0.7f, Ab.p(), S.data(), srs, scs, beta, out.data(), p, 5); });
  char what[96];
  snprintf(what, sizeof what, "rank_rows  %s M%lld K%lld r%d %s p%.2f beta%.1f", emu::dname(T), M, K, r,
           b_layout ? "S=B" : "S=A", p, beta);
  check(what, out, want);
}

template <int RM, DType T = DType::F32>
static void cols(long long M, long long N, int r, bool da_layout, float p) {
  emu::Buf Pb(T, randn(M * N));
  auto P = Pb.f32();
  auto Q = randn(M * r), o = randn(N * r);
  long long ons = da_layout ? 1 : r, ojs = da_layout ? N : 1;  // dA [r, K]: o(n, j) at j·K + n; dB [N, r] at n·r + j
  std::vector<double> want(o.begin(), o.end());
  for (long long n = 0; n < N; n++)
    for (int j = 0; j < r; j++) {
      double s = 0;
      for (long long m = 0; m < M; m++) s += double(P[m * N + n]) * keep(9, m * N + n, p) * Q[m * r + j];
      want[n * ons + j * ojs] += 1.5 * s;
    }
  const long long chunk = 128;
  emu::launch(dim3(unsigned((N + 127) / 128), unsigned((M + chunk - 1) / chunk)), dim3(128), 0,
              [&] { rank_cols_k<RM, T>(M, N, r, 1.5f, Pb.p(), Q.data(), chunk, o.data(), ons, ojs, p, 9); });
  char what[96];
  snprintf(what, sizeof what, "rank_cols  %s M%lld N%lld r%d %s p%.2f (accumulating)", emu::dname(T), M, N, r,
           da_layout ? "dA" : "dB", p);
  check(what, o, want);
}

template <int RM, DType T = DType::F32>
static void expand(long long M, long long C, int r, bool b_layout, float p) {
  auto L = randn(M * r), R = randn(r * C);
  emu::Buf ob(T, randn(M * C));
  auto out = ob.f32();
  long long rrs = b_layout ? 1 : C, rcs = b_layout ? r : 1;  // R(j, c) = R[j·rrs + c·rcs]
  std::vector<double> want(M * C);
  for (long long m = 0; m < M; m++)
    for (long long c = 0; c < C; c++) {
      double s = 0;
      for (int j = 0; j < r; j++) s += double(L[m * r + j]) * R[j * rrs + c * rcs];
      want[m * C + c] = out[m * C + c] + 0.5 * keep(3, m * C + c, p) * s;
    }
  emu::launch(dim3(unsigned((C + XC - 1) / XC), unsigned((M + XM - 1) / XM)), dim3(XC, 4), 0,
              [&] { rank_expand_k<RM, T>(M, C, r, 0.5f, L.data(), R.data(), rrs, rcs, p, 3, ob.p()); });
  char what[96];
  snprintf(what, sizeof what, "rank_expand %s M%lld C%lld r%d %s p%.2f (adding)", emu::dname(T), M, C, r,
           b_layout ? "R=Bᵀ" : "R=A", p);
  if (T == DType::F32) return check(what, ob.f32(), want);
  std::vector<float> wf(want.begin(), want.end());
  long long u = emu::max_ulp(T, ob.f32(), emu::rounded(T, wf), &want);
  printf("%-60s %lld ulp\n", what, u);
  emu::expect(u <= 1);
}

// xa_i = x·A_iᵀ for M <= 8 rows of x (of dtype T) and n adapters of ranks rs in one launch; vec:
// 16-byte loads of A (K % 4 == 0, aligned)
template <DType T = DType::F32>
static void gemv(long long M, long long K, std::vector<int> rs, bool vec) {
  emu::Buf xb(T, randn(M * K));
  auto x = xb.f32();
  RankSegs segs;
  segs.n = int(rs.size());
  std::vector<std::vector<float4>> As(rs.size());  // 16-byte aligned, as cudaMalloc gives
  std::vector<std::vector<float>> outs(rs.size());
  long long blocks = 0;
  for (size_t i = 0; i < rs.size(); i++) {
    auto a = randn(rs[i] * K);
    As[i].resize((a.size() + 3) / 4);
    std::memcpy(As[i].data(), a.data(), a.size() * 4);
    outs[i].assign(M * rs[i], NAN);
    segs.s[i] = RankSeg{reinterpret_cast<const float*>(As[i].data()), outs[i].data(), rs[i]};
    blocks += rs[i];
  }
  emu::launch(dim3(unsigned(blocks)), dim3(kRankGemvThreads), 0, [&] { rank_gemv_k<T>(xb.p(), M, K, segs, vec); });
  for (size_t i = 0; i < rs.size(); i++) {
    const float* a = reinterpret_cast<const float*>(As[i].data());
    std::vector<double> want(M * rs[i]);
    for (long long m = 0; m < M; m++)
      for (int j = 0; j < rs[i]; j++) {
        double s = 0;
        for (long long k = 0; k < K; k++) s += double(x[m * K + k]) * a[j * K + k];
        want[m * rs[i] + j] = s;
      }
    char what[96];
    snprintf(what, sizeof what, "rank_gemv  %s M%lld K%lld r%d, adapter %zu of %zu, %s", emu::dname(T), M, K, rs[i],
             i + 1, rs.size(), vec ? "16-byte loads" : "one element");
    check(what, outs[i], want);
  }
}

int main() {
  rows<16>(37, 100, 5, false, 0.25f, 0.0f);
  rows<16>(37, 100, 16, true, 0.0f, 0.5f);
  rows<64>(9, 70, 40, false, 0.1f, 0.0f);
  cols<16>(300, 70, 5, false, 0.0f);
  cols<16>(300, 70, 5, true, 0.25f);
  cols<32>(129, 33, 20, true, 0.5f);
  expand<16>(70, 130, 5, true, 0.0f);
  expand<16>(70, 130, 16, false, 0.3f);
  expand<32>(33, 64, 20, false, 0.0f);
  expand<64>(5, 200, 64, true, 0.2f);
  rows<16, DType::BF16>(37, 100, 16, false, 0.25f, 0.0f);
  rows<32, DType::F16>(9, 70, 20, true, 0.0f, 0.5f);
  cols<16, DType::BF16>(300, 70, 16, true, 0.25f);
  cols<16, DType::F16>(129, 33, 5, false, 0.0f);
  expand<16, DType::BF16>(70, 130, 16, true, 0.0f);
  expand<16, DType::F16>(33, 64, 5, false, 0.3f);
  gemv(1, 4096, {16}, true);
  gemv(1, 1000, {16, 4, 4}, true);  // q/k/v: three adapters, one launch
  gemv(3, 70, {5, 9}, false);
  gemv(8, 520, {64}, true);
  gemv<DType::BF16>(1, 2048, {16, 16}, true);
  gemv<DType::F16>(2, 36, {7}, false);
  printf(emu::failures ? "FAILED: %d checks off\n" : "all rank products match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
