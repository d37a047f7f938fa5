// The tiled CUDA attention kernels (native/cuda/attention.cuh) run on the emulator against the CPU
// reference (native/cpu/attention.cpp): causal + padding + GQA + window, T5-style bias with
// Tq != Tk, a KV cache, several tiles, head sizes 16…128. Prints one line per case; exits 1 when a
// case is off by more than 1e-5 (forward) or 1e-4 (backward) relative to the largest value.
#include "emu.h"
#include "plf/ops.h"
#include "attention.cuh"
#include <cstdio>

using namespace plf::cuda;

using emu::randn;
static double rel(const std::vector<float>& a, const std::vector<float>& b) { return emu::max_rel(a, b); }
static void verdict(const char* what, double e, double tol) {
  printf(" %s %.2e", what, e);
  emu::expect(e <= tol);
}

template <int DP>
static void run(long long B, long long Tq, long long Tk, long long Tcap, long long Hq, long long Hkv, long long D,
                long long window, bool causal, bool use_bias, bool use_mask) {
  float scale = use_bias ? 1.0f : 1.0f / std::sqrt(float(D));
  auto q = randn(B * Tq * Hq * D), k = randn(B * Tcap * Hkv * D), v = randn(B * Tcap * Hkv * D),
       bias = randn(Hq * Tq * Tk);
  std::vector<int64_t> mask(B * Tcap, 1);
  if (use_mask)
    for (long long b = 1; b < B; b++)
      for (long long s = 0; s < 2 && s < Tk; s++) mask[b * Tcap + Tk - 1 - s] = 0;
  for (long long b = 0; b < B; b++)
    for (long long s = Tk; s < Tcap; s++) mask[b * Tcap + s] = 0;
  const int64_t* mp = use_mask || Tcap != Tk ? mask.data() : nullptr;
  const float* bp = use_bias ? bias.data() : nullptr;
  std::vector<float> out_c(q.size()), lse_c(B * Hq * Tq), out_g(q.size(), NAN), lse_g(B * Hq * Tq, NAN);
  plf::cpu::attention_forward(q.data(), k.data(), v.data(), mp, B, Tq, Tk, Tcap, Hq, Hkv, D, scale, window, causal, bp,
                              out_c.data(), lse_c.data());
  AttnDims a{B, Tq, Tk, Tcap, Hq, Hkv, D, scale, window, causal};
  emu::launch(dim3(unsigned((Tq + tiled::FQ - 1) / tiled::FQ), unsigned(Hq), unsigned(B)), tiled::kT,
              tiled::fwd_smem<DP>(),
              [&] { tiled::fwd_k<DP>(q.data(), k.data(), v.data(), mp, a, bp, out_g.data(), lse_g.data()); });
  double el = 0;
  for (size_t i = 0; i < lse_c.size(); i++)
    el = std::max(el, std::isfinite(lse_c[i]) ? double(std::fabs(lse_c[i] - lse_g[i]))
                      : lse_g[i] == lse_c[i]  ? 0.0
                                              : 1e30);
  printf("B%lld Tq%lld Tk%lld cap%lld Hq%lld Hkv%lld D%lld window%lld causal%d bias%d mask%d:", B, Tq, Tk, Tcap, Hq,
         Hkv, D, window, causal, use_bias, use_mask);
  verdict("out", rel(out_g, out_c), 1e-5);
  verdict("lse", el, 1e-5);
  if (Tcap == Tk) {  // backward takes Tcap = Tk
    auto g = randn(q.size());
    std::vector<float> dq_c(q.size()), dk_c(k.size()), dv_c(v.size()), delta(B * Hq * Tq, NAN);
    std::vector<float> dq_g(q.size(), NAN), dk_g(k.size(), NAN), dv_g(v.size(), NAN);
    plf::cpu::attention_backward(g.data(), q.data(), k.data(), v.data(), out_c.data(), lse_c.data(), mp, B, Tq, Tk, Hq,
                                 Hkv, D, scale, window, causal, bp, dq_c.data(), dk_c.data(), dv_c.data());
    long long rows = B * Hq * Tq;
    emu::launch(dim3(unsigned((rows * 32 + 255) / 256)), 256, 0,
                [&] { tiled::delta_k(g.data(), out_c.data(), a, delta.data()); });
    emu::launch(dim3(unsigned((Tk + tiled::BK - 1) / tiled::BK), unsigned(Hkv), unsigned(B)), tiled::kT,
                tiled::bwd_smem<DP>(), [&] {
                  tiled::dkdv_k<DP>(g.data(), q.data(), k.data(), v.data(), lse_c.data(), delta.data(), mp, a, bp,
                                    dk_g.data(), dv_g.data());
                });
    emu::launch(dim3(unsigned((Tq + tiled::BQ - 1) / tiled::BQ), unsigned(Hq), unsigned(B)), tiled::kT,
                tiled::bwd_smem<DP>(), [&] {
                  tiled::dq_k<DP>(g.data(), q.data(), k.data(), v.data(), lse_c.data(), delta.data(), mp, a, bp,
                                  dq_g.data());
                });
    verdict("dq", rel(dq_g, dq_c), 1e-4);
    verdict("dk", rel(dk_g, dk_c), 1e-4);
    verdict("dv", rel(dv_g, dv_c), 1e-4);
  }
  printf("\n");
}

int main() {
  run<32>(2, 13, 13, 13, 4, 2, 16, 0, true, false, true);
  run<64>(3, 9, 9, 9, 4, 1, 64, 4, true, false, true);
  run<32>(2, 7, 11, 11, 4, 4, 32, 0, false, true, true);
  run<128>(2, 5, 5, 5, 2, 2, 128, 0, true, true, true);
  run<32>(2, 3, 10, 16, 2, 2, 16, 0, true, false, false);      // KV cache: 3 queries, 10 of 16 filled
  run<128>(1, 70, 70, 70, 4, 2, 80, 0, true, false, true);     // phi-2's head size, several tiles
  run<64>(2, 100, 100, 100, 4, 2, 64, 33, true, false, true);  // a window across tiles
  run<32>(1, 40, 75, 75, 2, 1, 24, 0, false, false, true);     // cross-attention over several key tiles
  printf(emu::failures ? "FAILED: %d values off\n" : "all cases match the CPU\n", emu::failures);
  return emu::failures ? 1 : 0;
}
