// The tiled CUDA attention kernels (native/cuda/attention.cuh) run on the emulator against the CPU
// reference (native/cpu/attention.cpp): causal + padding + GQA + window, T5-style bias with
// Tq != Tk, a KV cache, several tiles, head sizes 16…128. Prints one line per case; exits 1 when a
// case is off by more than 1e-5 (forward) or 1e-4 (backward) relative to the largest value. The
// tensor-core forward (attention_tc.cuh, wmma emulated) against the CPU on the bf16-rounded q, k, v:
// lse within 1e-5, out within 1e-2 (P is rounded to bf16 for P·V, as FlashAttention does); its
// backward (dK/dV and dQ kernels) against the CPU's on the same values within 2e-2 (P, dS rounded).
// Decoding's kernel (attention_decode.cuh: one query row, split over keys, then the combine pass)
// against the CPU: out within 1e-5 (bf16/f16 in place: one ulp of the CPU's on the same values), lse
// within 1e-5.
#include "emu.h"
#include "wmma.h"
#include "half.h"
#include "plf/ops.h"
#include "attention.cuh"
#include "attention_tc.cuh"
#include "attention_decode.cuh"
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
  if (D <= 128) {  // the tensor-core forward (bf16 operands)
    auto r = [](std::vector<float> x) {
      for (auto& e : x) e = plf::bf16_to_f32(plf::f32_to_bf16(e));
      return x;
    };
    auto qr = r(q), kr = r(k), vr = r(v);
    std::vector<float> out_r(q.size()), lse_r(B * Hq * Tq), out_t(q.size(), NAN), lse_t(B * Hq * Tq, NAN);
    plf::cpu::attention_forward(qr.data(), kr.data(), vr.data(), mp, B, Tq, Tk, Tcap, Hq, Hkv, D, scale, window, causal,
                                bp, out_r.data(), lse_r.data());
    // bf16 activations in place: the same values read, so the outputs are the f32 ones rounded
    emu::Buf q16(plf::DType::BF16, qr), k16(plf::DType::BF16, kr), v16(plf::DType::BF16, vr),
        out16(plf::DType::BF16, q.size());
    std::vector<float> lse16(B * Hq * Tq, NAN);
    auto tc = [&](auto dp) {
      constexpr int P = decltype(dp)::value;
      dim3 grid(unsigned((Tq + tcattn::QT - 1) / tcattn::QT), unsigned(Hq), unsigned(B));
      emu::launch(grid, tcattn::kT, tcattn::smem<__nv_bfloat16, P>(), [&] {
        tcattn::fwd_k<__nv_bfloat16, P, plf::DType::F32>(q.data(), k.data(), v.data(), mp, a, bp, out_t.data(),
                                                         lse_t.data());
      });
      emu::launch(grid, tcattn::kT, tcattn::smem<__nv_bfloat16, P>(), [&] {
        tcattn::fwd_k<__nv_bfloat16, P, plf::DType::BF16>(q16.p(), k16.p(), v16.p(), mp, a, bp, out16.p(),
                                                          lse16.data());
      });
    };
    if (D <= 64)
      tc(std::integral_constant<int, 64>{});
    else
      tc(std::integral_constant<int, 128>{});
    double et = 0;
    for (size_t i = 0; i < lse_r.size(); i++)
      et = std::max(et, std::isfinite(lse_r[i]) ? double(std::fabs(lse_r[i] - lse_t[i]))
                        : lse_t[i] == lse_r[i]  ? 0.0
                                                : 1e30);
    verdict("tc-out", rel(out_t, out_r), 1e-2);
    verdict("tc-lse", et, 1e-5);
    long long u = emu::max_ulp(plf::DType::BF16, out16.f32(), emu::rounded(plf::DType::BF16, out_t), &out_t);
    verdict("tc-out-bf16(ulp)", double(u), 1);
    verdict("tc-lse-bf16", emu::max_rel(lse16, lse_t), 0);
    if (Tcap == Tk) {  // the tensor-core backward against the CPU's on the same rounded values
      auto g = r(randn(q.size()));
      std::vector<float> dq_r(q.size()), dk_r(k.size()), dv_r(v.size()), delta(B * Hq * Tq, NAN);
      std::vector<float> dq_t(q.size(), NAN), dk_t(k.size(), NAN), dv_t(v.size(), NAN);
      plf::cpu::attention_backward(g.data(), qr.data(), kr.data(), vr.data(), out_r.data(), lse_r.data(), mp, B, Tq, Tk,
                                   Hq, Hkv, D, scale, window, causal, bp, dq_r.data(), dk_r.data(), dv_r.data());
      long long rows = B * Hq * Tq;
      emu::launch(dim3(unsigned((rows * 32 + 255) / 256)), 256, 0,
                  [&] { tiled::delta_k(g.data(), out_r.data(), a, delta.data()); });
      emu::Buf g16(plf::DType::BF16, g), dq16(plf::DType::BF16, q.size()), dk16(plf::DType::BF16, k.size()),
          dv16(plf::DType::BF16, v.size());
      auto bwd = [&](auto dp) {
        constexpr int P = decltype(dp)::value;
        dim3 kgrid(unsigned((Tk + tcattn::KT - 1) / tcattn::KT), unsigned(Hkv), unsigned(B)),
            qgrid(unsigned((Tq + tcattn::QT - 1) / tcattn::QT), unsigned(Hq), unsigned(B));
        const size_t sm = tcattn::bwd_smem<__nv_bfloat16, P>();
        emu::launch(kgrid, tcattn::kT, sm, [&] {
          tcattn::dkdv_k<__nv_bfloat16, P, plf::DType::F32>(g.data(), q.data(), k.data(), v.data(), lse_r.data(),
                                                            delta.data(), mp, a, bp, dk_t.data(), dv_t.data());
        });
        emu::launch(qgrid, tcattn::kT, sm, [&] {
          tcattn::dq_k<__nv_bfloat16, P, plf::DType::F32>(g.data(), q.data(), k.data(), v.data(), lse_r.data(),
                                                          delta.data(), mp, a, bp, dq_t.data());
        });
        emu::launch(kgrid, tcattn::kT, sm, [&] {
          tcattn::dkdv_k<__nv_bfloat16, P, plf::DType::BF16>(g16.p(), q16.p(), k16.p(), v16.p(), lse_r.data(),
                                                             delta.data(), mp, a, bp, dk16.p(), dv16.p());
        });
        emu::launch(qgrid, tcattn::kT, sm, [&] {
          tcattn::dq_k<__nv_bfloat16, P, plf::DType::BF16>(g16.p(), q16.p(), k16.p(), v16.p(), lse_r.data(),
                                                           delta.data(), mp, a, bp, dq16.p());
        });
      };
      if (D <= 64)
        bwd(std::integral_constant<int, 64>{});
      else
        bwd(std::integral_constant<int, 128>{});
      verdict("tc-dq", rel(dq_t, dq_r), 2e-2);
      verdict("tc-dk", rel(dk_t, dk_r), 2e-2);
      verdict("tc-dv", rel(dv_t, dv_r), 2e-2);
      long long ub = 0;
      for (auto [b16, f] : {std::pair{&dq16, &dq_t}, {&dk16, &dk_t}, {&dv16, &dv_t}})
        ub = std::max(ub, emu::max_ulp(plf::DType::BF16, b16->f32(), emu::rounded(plf::DType::BF16, *f), f));
      verdict("tc-grads-bf16(ulp)", double(ub), 1);
    }
  }
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

// one query row per batch row against a cache of Tcap positions, Tk of them attended (the recorded
// decode step attends the whole cache under the mask); `chunk` keys per split (several splits:
// the combine pass runs)
template <plf::DType T = plf::DType::F32>
static void decode_case(long long B, long long Tk, long long Tcap, long long Hq, long long Hkv, long long D,
                        long long window, bool causal, bool use_mask, long long chunk) {
  const float scale = 1.0f / std::sqrt(float(D));
  emu::Buf qb(T, randn(B * Hq * D)), kb(T, randn(B * Tcap * Hkv * D)), vb(T, randn(B * Tcap * Hkv * D));
  auto q = qb.f32(), k = kb.f32(), v = vb.f32();  // the values the kernel reads
  std::vector<int64_t> mask(B * Tcap, 1);
  if (use_mask)
    for (long long b = 0; b < B; b++) {
      for (long long s = 0; s < b && s < Tk; s++) mask[b * Tcap + s] = 0;     // row b: b positions of left padding
      for (long long s = Tk - 1; s < Tcap; s++) mask[b * Tcap + s] = s < Tk;  // unfilled cache positions
    }
  if (use_mask && B > 2)  // a row that sees no key at all
    for (long long s = 0; s < Tcap; s++) mask[2 * Tcap + s] = 0;
  const int64_t* mp = use_mask ? mask.data() : nullptr;
  std::vector<float> out_c(q.size()), lse_c(B * Hq), lse_g(B * Hq, NAN);
  plf::cpu::attention_forward(q.data(), k.data(), v.data(), mp, B, 1, Tk, Tcap, Hq, Hkv, D, scale, window, causal,
                              nullptr, out_c.data(), lse_c.data());
  AttnDims a{B, 1, Tk, Tcap, Hq, Hkv, D, scale, window, causal};
  const long long splits = (Tk + chunk - 1) / chunk, G = Hq / Hkv;
  emu::Buf ob(T, std::vector<float>(q.size(), NAN));
  std::vector<float> part(B * Hq * splits * (D + 2), NAN);
  const dim3 grid{unsigned(splits), unsigned(Hkv), unsigned(B)};
  decode::by_group(G, [&](auto gm) {
    emu::launch(grid, dim3(decode::kT), 0, [&] {
      decode::decode_k<decltype(gm)::value, T>(qb.p(), kb.p(), vb.p(), mp, a, chunk, ob.p(), lse_g.data(), part.data());
    });
  });
  if (splits > 1)
    emu::launch(dim3(unsigned(Hq), unsigned(B)), dim3(128), 0,
                [&] { decode::decode_combine_k<T>(part.data(), splits, a, ob.p(), lse_g.data()); });
  double el = 0;
  for (size_t i = 0; i < lse_c.size(); i++)
    el = std::max(el, std::isfinite(lse_c[i]) ? double(std::fabs(lse_c[i] - lse_g[i]))
                      : lse_g[i] == lse_c[i]  ? 0.0
                                              : 1e30);
  printf("decode %-4s B%lld Tk%lld cap%lld Hq%lld Hkv%lld D%lld window%lld causal%d mask%d splits%lld:", emu::dname(T),
         B, Tk, Tcap, Hq, Hkv, D, window, causal, use_mask, splits);
  if (T == plf::DType::F32)
    verdict("out", rel(ob.f32(), out_c), 1e-5);
  else
    verdict("out(ulp)", double(emu::max_ulp(T, ob.f32(), emu::rounded(T, out_c), &out_c)), 1);
  verdict("lse", el, 1e-5);
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
  // decoding's kernel (after the cases above: the random draws those see stay as they were)
  decode_case(3, 77, 80, 8, 2, 64, 0, true, true, 64);      // GQA 4, padding, unfilled cache, a blind row; 2 splits
  decode_case(1, 200, 200, 4, 4, 128, 0, true, false, 32);  // MHA, head size 128, 7 splits
  decode_case(2, 50, 64, 8, 1, 80, 16, true, true, 1000);   // phi-like head size, a sliding window, 1 split
  decode_case(2, 33, 33, 14, 2, 64, 0, false, true, 8);     // qwen2-like group of 7, cross-attention (not causal)
  decode_case<plf::DType::BF16>(2, 90, 96, 8, 2, 128, 0, true, true, 40);
  decode_case<plf::DType::F16>(1, 20, 20, 2, 1, 32, 0, true, false, 1000);
  printf(emu::failures ? "FAILED: %d values off\n" : "all cases match the CPU\n", emu::failures);
  return emu::failures ? 1 : 0;
}
