// NF4's CUDA kernels (native/cuda/nf4.cuh) on the emulator against the CPU reference
// (native/cpu/nf4.cpp), bit for bit: quantize (packed codes and absmax), and dequantize to f32 and
// bf16 through the vector kernel (8-value groups, absmax resolved into shared memory) and the scalar
// tail, with plain and double-quantized absmax. Exits 1 on any differing bit. And the decoding GEMV
// (gemv_k: absmax resolved while the weight loads are in flight) against double loops over the CPU's
// dequantized weight: f32 within 1e-5 of the largest value, bf16/f16 x and y within one ulp; with a
// LoRA adapter in its epilogue (one weight, three in one launch, gate/up with SwiGLU) bit for bit the
// plain kernels followed by rank_expand_k; a batch of up to 8 rows of x (one weight, q/k/v, gate/up
// with SwiGLU) bit for bit row by row.
#include "emu.h"
#include "half.h"
#include "nf4.cuh"
#include "activation.cuh"
#include "lora.cuh"
#include <cstdio>
#include <algorithm>
#include <cstring>

using namespace plf;
using namespace plf::cuda;
using emu::randn;

static void expect_same(const char* what, const void* a, const void* b, size_t bytes, long long n, long long bs) {
  bool same = std::memcmp(a, b, bytes) == 0;
  printf("%-34s n=%lld blocksize %lld: %s\n", what, n, bs, same ? "identical" : "DIFFERENT");
  emu::expect(same);
}

template <int Out>
static void dequant(const NF4View& w, std::vector<uint16_t>& out16, std::vector<float>& out32) {
  void* out = Out == 0 ? static_cast<void*>(out32.data()) : static_cast<void*>(out16.data());
  long long groups = w.blocksize % 8 == 0 ? w.numel / 8 : 0;  // as nf4.cu: the vector path, then the tail
  size_t smem = size_t((kU * kDT) / (w.blocksize / 8) + 2) * sizeof(float);
  if (groups) {
    unsigned blocks = unsigned((groups + kU * kDT - 1) / (kU * kDT));
    emu::launch(dim3(blocks), dim3(kDT), smem, [&] { dequant_vec_k<Out>(w, groups, out); });
  }
  if (w.numel > groups * 8)
    emu::launch(dim3(unsigned((w.numel - groups * 8 + 255) / 256)), dim3(256), 0,
                [&] { dequant_scalar_k<Out>(w, groups * 8, out); });
}

// an NF4 view over packed codes and absmax, double-quantized as the binding does (absmax − mean,
// 8-bit dynamic map in nested blocks of 256) when asked
struct Quantized {
  std::vector<uint8_t> q;
  std::vector<float> absmax, nested, dyn = std::vector<float>(256);
  NF4View w;
};
static void view_of(Quantized& z, const std::vector<uint8_t>& packed, const std::vector<float>& absmax, long long n,
                    long long bs, bool double_quant) {
  long long nb = (long long)absmax.size();
  z.absmax = absmax;
  z.w.packed = packed.data();
  z.w.code = NF4_CODE;
  z.w.numel = n;
  z.w.blocksize = bs;
  if (double_quant) {
    z.w.offset = float(cpu::mean_f32(z.absmax.data(), nb));
    for (float& a : z.absmax) a -= z.w.offset;
    z.q.resize(nb);
    z.nested.resize((nb + 255) / 256);
    cpu::dynamic_map_signed(z.dyn.data());
    cpu::blockwise_quantize_u8(z.absmax.data(), nb, 256, z.dyn.data(), z.q.data(), z.nested.data());
    z.w.absmax_q = z.q.data();
    z.w.nested_absmax = z.nested.data();
    z.w.nested_code = z.dyn.data();
    z.w.nested_blocksize = 256;
  } else {
    z.w.absmax = z.absmax.data();
  }
}

static void run(long long n, long long bs, bool double_quant) {
  auto x = randn(n);
  long long nb = (n + bs - 1) / bs;
  std::vector<uint8_t> packed((n + 1) / 2, 0), cpacked((n + 1) / 2, 0);
  std::vector<float> absmax(nb, NAN), cabsmax(nb);
  emu::launch(dim3(unsigned((nb * 32 + 255) / 256)), dim3(256), 0,
              [&] { quant_k(x.data(), n, bs, nb, packed.data(), absmax.data()); });
  cpu::nf4_quantize(x.data(), n, bs, cpacked.data(), cabsmax.data());
  expect_same("quantize: packed codes", packed.data(), cpacked.data(), packed.size(), n, bs);
  expect_same("quantize: absmax", absmax.data(), cabsmax.data(), absmax.size() * 4, n, bs);
  Quantized qz;
  view_of(qz, cpacked, cabsmax, n, bs, double_quant);
  const NF4View& w = qz.w;
  std::vector<float> y32(n, NAN), c32(n);
  std::vector<uint16_t> y16(n, 0xFFFF), c16(n);
  dequant<0>(w, y16, y32);
  cpu::nf4_dequantize(w, DType::F32, c32.data());
  expect_same(double_quant ? "dequantize f32 (double quant)" : "dequantize f32", y32.data(), c32.data(), n * 4, n, bs);
  dequant<1>(w, y16, y32);
  cpu::nf4_dequantize(w, DType::BF16, c16.data());
  expect_same(double_quant ? "dequantize bf16 (double quant)" : "dequantize bf16", y16.data(), c16.data(), n * 2, n,
              bs);
}

// y [N] = W·x for W [N, K] NF4 (decoding), x and y of dtype T, as nf4_gemv launches it
template <DType T>
static void gemv(long long N, long long K, long long bs, bool double_quant, bool with_bias, bool into = false) {
  auto wf = randn(N * K, 0.05f);
  long long nb = (N * K + bs - 1) / bs;
  std::vector<uint8_t> packed((N * K + 1) / 2);
  std::vector<float> absmax(nb);
  cpu::nf4_quantize(wf.data(), N * K, bs, packed.data(), absmax.data());
  Quantized qz;
  view_of(qz, packed, absmax, N * K, bs, double_quant);
  std::vector<float> wd(N * K), bias = randn(N);
  cpu::nf4_dequantize(qz.w, DType::F32, wd.data());
  // into: y holds a residual the GEMV adds to; else NaN, which must be overwritten
  emu::Buf x(T, randn(K)), y(T, into ? randn(N) : std::vector<float>(N, NAN));
  auto xf = x.f32(), y0 = y.f32();
  std::vector<float> want(N);
  for (long long r = 0; r < N; r++) {
    double acc = (with_bias ? bias[r] : 0.0) + (into ? double(y0[r]) : 0.0);
    for (long long k = 0; k < K; k++) acc += double(wd[r * K + k]) * xf[k];
    want[r] = float(acc);
  }
  constexpr int R = 4, S = 4, kThreads = 128;  // nf4.cu's launch
  long long warps = (N + R - 1) / R;
  size_t smem = size_t(kThreads / 32) * R * size_t(K / bs) * sizeof(float);
  emu::launch(dim3(unsigned((warps * 32 + kThreads - 1) / kThreads)), dim3(kThreads), smem,
              [&] { gemv_k<R, S, T>(x.p(), qz.w, N, K, with_bias ? bias.data() : nullptr, y.p(), into); });
  char what[96];
  snprintf(what, sizeof what, "gemv N%lld K%lld blocksize %lld%s%s%s", N, K, bs, double_quant ? " (double quant)" : "",
           with_bias ? ", bias" : "", into ? ", into y" : "");
  emu::expect_act(what, T, y.f32(), want, 1e-5);
}

// q/k/v-like: three NF4 weights over one x in one launch (gemv_multi_k), each output bit for bit the
// one-weight kernel's (the same gemv_rows), and within 1e-5 of the dequantized reference
template <DType T>
static void multi(long long K) {
  const long long Ns[3] = {40, 12, 12}, bss[3] = {64, 64, 128};
  const bool dqs[3] = {true, false, true};
  std::vector<float> wfs[3];
  std::vector<uint8_t> packed[3];
  std::vector<float> absmax[3];
  Quantized qz[3];
  emu::Buf x(T, randn(K));
  auto xf = x.f32();
  std::vector<float> bias = randn(Ns[0]);
  GemvSegs segs;
  segs.n = 3;
  std::vector<emu::Buf> ys, singles;
  for (int i = 0; i < 3; i++) {
    ys.emplace_back(T, std::vector<float>(Ns[i], NAN));
    singles.emplace_back(T, std::vector<float>(Ns[i], NAN));
  }
  long long groups = 0, max_nb = 0;
  constexpr int R = 4, S = 4, kThreads = 128;
  for (int i = 0; i < 3; i++) {
    wfs[i] = randn(Ns[i] * K, 0.05f);
    packed[i].resize((Ns[i] * K + 1) / 2);
    absmax[i].resize((Ns[i] * K + bss[i] - 1) / bss[i]);
    cpu::nf4_quantize(wfs[i].data(), Ns[i] * K, bss[i], packed[i].data(), absmax[i].data());
    view_of(qz[i], packed[i], absmax[i], Ns[i] * K, bss[i], dqs[i]);
    segs.s[i] = GemvSeg{qz[i].w, Ns[i], i == 0 ? bias.data() : nullptr, ys[i].p()};
    groups += (Ns[i] + R - 1) / R;
    max_nb = std::max(max_nb, K / bss[i]);
  }
  emu::launch(dim3(unsigned((groups * 32 + kThreads - 1) / kThreads)), dim3(kThreads),
              size_t(kThreads / 32) * R * size_t(max_nb) * sizeof(float),
              [&] { gemv_multi_k<R, S, T>(x.p(), segs, K, max_nb, false); });
  for (int i = 0; i < 3; i++) {
    long long warps = (Ns[i] + R - 1) / R;
    emu::launch(dim3(unsigned((warps * 32 + kThreads - 1) / kThreads)), dim3(kThreads),
                size_t(kThreads / 32) * R * size_t(K / bss[i]) * sizeof(float),
                [&] { gemv_k<R, S, T>(x.p(), qz[i].w, Ns[i], K, i == 0 ? bias.data() : nullptr, singles[i].p()); });
    std::vector<float> wd(Ns[i] * K), want(Ns[i]);
    cpu::nf4_dequantize(qz[i].w, DType::F32, wd.data());
    for (long long r = 0; r < Ns[i]; r++) {
      double acc = i == 0 ? bias[r] : 0.0;
      for (long long k = 0; k < K; k++) acc += double(wd[r * K + k]) * xf[k];
      want[r] = float(acc);
    }
    char what[96];
    snprintf(what, sizeof what, "gemv multi, weight %d of 3 (N%lld K%lld blocksize %lld)", i + 1, Ns[i], K, bss[i]);
    emu::expect_act(what, T, ys[i].f32(), want, 1e-5);
    bool same = ys[i].f32() == singles[i].f32();
    printf("%-44s %s\n", "  … equal to the one-weight kernel", same ? "bit for bit" : "DIFFERENT");
    emu::expect(same);
  }
}

// gate/up GEMVs with SwiGLU in one launch (gemv_swiglu_k) against the gate GEMV, the up GEMV and
// swiglu_fwd_k one after another: bit for bit
template <DType T>
static void swiglu(long long N, long long K) {
  Quantized qz[2];
  std::vector<uint8_t> packed[2];
  std::vector<float> absmax[2];
  for (int i = 0; i < 2; i++) {
    auto wf = randn(N * K, 0.05f);
    packed[i].resize((N * K + 1) / 2);
    absmax[i].resize((N * K + 63) / 64);
    cpu::nf4_quantize(wf.data(), N * K, 64, packed[i].data(), absmax[i].data());
    view_of(qz[i], packed[i], absmax[i], N * K, 64, i == 0);
  }
  emu::Buf x(T, randn(K)), h(T, std::vector<float>(N, NAN)), g(T, N), u(T, N), want(T, N);
  constexpr int R = 4, S = 4, kThreads = 128;
  const long long warps = (N + R - 1) / R, nb = K / 64;
  const dim3 grid(unsigned((warps * 32 + kThreads - 1) / kThreads));
  const size_t smem = size_t(kThreads / 32) * R * size_t(nb) * sizeof(float);
  emu::launch(grid, dim3(kThreads), smem, [&] { gemv_swiglu_k<R, S, T>(x.p(), qz[0].w, qz[1].w, N, K, nb, h.p()); });
  emu::launch(grid, dim3(kThreads), smem, [&] { gemv_k<R, S, T>(x.p(), qz[0].w, N, K, nullptr, g.p()); });
  emu::launch(grid, dim3(kThreads), smem, [&] { gemv_k<R, S, T>(x.p(), qz[1].w, N, K, nullptr, u.p()); });
  emu::launch(dim3(unsigned((N + 255) / 256)), dim3(256), 0, [&] { swiglu_fwd_k<T>(g.p(), u.p(), N, want.p()); });
  bool same = h.f32() == want.f32();
  printf("gemv + SwiGLU in one launch N%lld K%lld %-4s  %s\n", N, K, emu::dname(T), same ? "bit for bit" : "DIFFERENT");
  emu::expect(same);
}

// A LoRA adapter in the decoding GEMVs' epilogue (GemvLora: xa given, B [N, r], scale) against the
// plain kernels followed by rank_expand_k (y += s·xa·Bᵀ), as lora_linear_forward ran them: bit for
// bit, for one weight (with bias and a residual), three in one launch (adapters on two), and gate/up
// with SwiGLU (adapters on both)
struct Adapter {
  std::vector<float> xa, b;
  int r;
  float scale;
  GemvLora view() { return GemvLora{b.data(), b.data(), xa.data(), r, scale}; }  // a: any non-null marks it
};
static Adapter adapter(long long N, int r, float scale) { return {randn(r), randn(N * r, 0.1f), r, scale}; }
struct NF4W {
  std::vector<uint8_t> packed;
  std::vector<float> absmax;
  Quantized qz;
};
static void nf4_weight(NF4W& w, long long N, long long K, long long bs, bool dq) {
  auto wf = randn(N * K, 0.05f);
  w.packed.resize((N * K + 1) / 2);
  w.absmax.resize((N * K + bs - 1) / bs);
  cpu::nf4_quantize(wf.data(), N * K, bs, w.packed.data(), w.absmax.data());
  view_of(w.qz, w.packed, w.absmax, N * K, bs, dq);
}
template <DType T>
static void lora_epilogue(long long K) {
  constexpr int R = 4, S = 4, kThreads = 128;
  auto grid = [](long long N) { return dim3(unsigned(((N + R - 1) / R * 32 + kThreads - 1) / kThreads)); };
  const size_t smem = size_t(kThreads / 32) * R * size_t(K / 64) * sizeof(float);
  auto expand = [&](long long N, Adapter& l, emu::Buf& y) {
    emu::launch(dim3(unsigned((N + XC - 1) / XC)), dim3(XC, 4), 0,
                [&] { rank_expand_k<16, T>(1, N, l.r, l.scale, l.xa.data(), l.b.data(), 1, l.r, 0.0f, 0, y.p()); });
  };
  auto report = [](const char* what, emu::Buf& got, emu::Buf& want) {
    bool same = got.f32() == want.f32();
    printf("%-58s %s\n", what, same ? "bit for bit" : "DIFFERENT");
    emu::expect(same);
  };
  emu::Buf x(T, randn(K));
  char what[96];
  {  // one weight: bias and a residual, then the adapter
    const long long N = 37;
    NF4W w;
    nf4_weight(w, N, K, 64, true);
    Adapter l = adapter(N, 16, 0.5f);
    auto bias = randn(N), resid = randn(N);
    emu::Buf y(T, resid), want(T, resid);
    emu::launch(grid(N), dim3(kThreads), smem,
                [&] { gemv_k<R, S, T>(x.p(), w.qz.w, N, K, bias.data(), y.p(), true, l.view()); });
    emu::launch(grid(N), dim3(kThreads), smem,
                [&] { gemv_k<R, S, T>(x.p(), w.qz.w, N, K, bias.data(), want.p(), true); });
    expand(N, l, want);
    snprintf(what, sizeof what, "gemv + LoRA r16 in the epilogue %-4s (bias, into y)", emu::dname(T));
    report(what, y, want);
  }
  {  // q/k/v: adapters on the first and the last weight
    const long long Ns[3] = {40, 12, 12};
    NF4W ws[3];
    Adapter ls[3] = {adapter(40, 8, 2.0f), adapter(12, 8, 2.0f), adapter(12, 5, 0.25f)};
    GemvSegs segs;
    segs.n = 3;
    std::vector<emu::Buf> ys, wants;
    long long groups = 0;
    for (int i = 0; i < 3; i++) {
      nf4_weight(ws[i], Ns[i], K, 64, i != 1);
      ys.emplace_back(T, std::vector<float>(Ns[i], NAN));
      wants.emplace_back(T, std::vector<float>(Ns[i], NAN));
      segs.s[i] = GemvSeg{ws[i].qz.w, Ns[i], nullptr, ys[i].p(), i == 1 ? GemvLora{} : ls[i].view()};
      groups += (Ns[i] + R - 1) / R;
    }
    emu::launch(dim3(unsigned((groups * 32 + kThreads - 1) / kThreads)), dim3(kThreads), smem,
                [&] { gemv_multi_k<R, S, T>(x.p(), segs, K, K / 64, false); });
    for (int i = 0; i < 3; i++) {
      emu::launch(grid(Ns[i]), dim3(kThreads), smem,
                  [&] { gemv_k<R, S, T>(x.p(), ws[i].qz.w, Ns[i], K, nullptr, wants[i].p()); });
      if (i != 1) expand(Ns[i], ls[i], wants[i]);
      snprintf(what, sizeof what, "gemv multi %-4s, weight %d of 3%s", emu::dname(T), i + 1,
               i == 1 ? " (no adapter)" : " + LoRA");
      report(what, ys[i], wants[i]);
    }
  }
  {  // gate/up + SwiGLU, an adapter on each
    const long long N = 64;
    NF4W wg, wu;
    nf4_weight(wg, N, K, 64, true);
    nf4_weight(wu, N, K, 64, false);
    Adapter lg = adapter(N, 16, 2.0f), lu = adapter(N, 16, 2.0f);
    emu::Buf h(T, std::vector<float>(N, NAN)), g(T, N), u(T, N), want(T, N);
    emu::launch(grid(N), dim3(kThreads), smem,
                [&] { gemv_swiglu_k<R, S, T>(x.p(), wg.qz.w, wu.qz.w, N, K, K / 64, h.p(), lg.view(), lu.view()); });
    emu::launch(grid(N), dim3(kThreads), smem, [&] { gemv_k<R, S, T>(x.p(), wg.qz.w, N, K, nullptr, g.p()); });
    expand(N, lg, g);
    emu::launch(grid(N), dim3(kThreads), smem, [&] { gemv_k<R, S, T>(x.p(), wu.qz.w, N, K, nullptr, u.p()); });
    expand(N, lu, u);
    emu::launch(dim3(unsigned((N + 255) / 256)), dim3(256), 0, [&] { swiglu_fwd_k<T>(g.p(), u.p(), N, want.p()); });
    snprintf(what, sizeof what, "gemv + SwiGLU + LoRA on gate and up %-4s", emu::dname(T));
    report(what, h, want);
  }
}

// a batch of M rows of x in one launch (gemv_k with MB accumulators and S weight steps, as nf4_gemv
// picks them): each row bit for bit the one-row kernel's (bias, a residual and a LoRA adapter
// with xa [M, r] included)
template <DType T, int MB, int S>
static void batch(long long M, long long N, long long K) {
  constexpr int R = 4, kThreads = 128;
  NF4W w;
  nf4_weight(w, N, K, 64, true);
  emu::Buf x(T, randn(M * K));
  auto bias = randn(N), resid = randn(M * N);
  const int r = 8;
  std::vector<float> xa = randn(M * r), b = randn(N * r, 0.1f);
  GemvLora l{b.data(), b.data(), xa.data(), r, 0.75f};
  emu::Buf y(T, resid);
  const dim3 grid(unsigned(((N + R - 1) / R * 32 + kThreads - 1) / kThreads));
  const size_t smem = size_t(kThreads / 32) * R * size_t(K / 64) * sizeof(float);
  emu::launch(grid, dim3(kThreads), smem,
              [&] { gemv_k<R, S, T, MB>(x.p(), w.qz.w, N, K, bias.data(), y.p(), true, l, M); });
  bool same = true;
  auto yf = y.f32(), xf = x.f32();
  for (long long m = 0; m < M; m++) {
    std::vector<float> xm(xf.begin() + m * K, xf.begin() + (m + 1) * K);
    std::vector<float> rm(resid.begin() + m * N, resid.begin() + (m + 1) * N);
    emu::Buf x1(T, xm), y1(T, rm);
    GemvLora l1{b.data(), b.data(), xa.data() + m * r, r, 0.75f};
    emu::launch(grid, dim3(kThreads), smem,
                [&] { gemv_k<R, 4, T>(x1.p(), w.qz.w, N, K, bias.data(), y1.p(), true, l1); });
    auto y1f = y1.f32();
    same = same && std::equal(y1f.begin(), y1f.end(), yf.begin() + m * N);
  }
  printf("gemv, %lld rows of x in one launch (MB %d, S %d) %-4s  %s\n", M, MB, S, emu::dname(T),
         same ? "bit for bit" : "DIFFERENT");
  emu::expect(same);
}

// q/k/v (gemv_multi_k) and gate/up + SwiGLU (gemv_swiglu_k) for a batch of M rows in one launch,
// MB and S as nf4_gemv_multi / nf4_gemv_swiglu pick them (by_rows), LoRA adapters with xa [M, r]:
// each row bit for bit the one-row launch (itself checked against the unfused kernels above)
template <DType T>
static void fused_batch(long long M, long long K) {
  constexpr int R = 4, kThreads = 128;
  auto grid = [](long long groups) { return dim3(unsigned((groups * 32 + kThreads - 1) / kThreads)); };
  const size_t smem = size_t(kThreads / 32) * R * size_t(K / 64) * sizeof(float);
  emu::Buf x(T, randn(M * K));
  const auto xf = x.f32();
  auto row = [&](long long m) { return std::vector<float>(xf.begin() + m * K, xf.begin() + (m + 1) * K); };
  const int rs[3] = {8, 16, 5};
  auto adapter_rows = [&](long long N, int r, float scale) {
    return Adapter{randn(M * r), randn(N * r, 0.1f), r, scale};
  };
  auto at_row = [](Adapter& l, long long m) {
    return GemvLora{l.b.data(), l.b.data(), l.xa.data() + m * l.r, l.r, l.scale};
  };
  bool same_multi = true, same_swiglu = true;
  {
    const long long Ns[3] = {24, 8, 8};
    NF4W ws[3];
    Adapter ls[3] = {adapter_rows(24, rs[0], 2.0f), adapter_rows(8, rs[1], 2.0f), adapter_rows(8, rs[2], 0.25f)};
    auto bias = randn(24);
    GemvSegs segs;
    segs.n = 3;
    std::vector<emu::Buf> ys;
    long long groups = 0;
    for (int i = 0; i < 3; i++) {
      nf4_weight(ws[i], Ns[i], K, 64, i != 2);
      ys.emplace_back(T, std::vector<float>(M * Ns[i], NAN));
      segs.s[i] =
          GemvSeg{ws[i].qz.w, Ns[i], i == 0 ? bias.data() : nullptr, ys[i].p(), i == 1 ? GemvLora{} : ls[i].view()};
      groups += (Ns[i] + R - 1) / R;
    }
    by_rows(M, [&](auto mb, auto s) {
      emu::launch(grid(groups), dim3(kThreads), smem, [&] {
        gemv_multi_k<R, decltype(s)::value, T, decltype(mb)::value>(x.p(), segs, K, K / 64, false, M);
      });
    });
    for (long long m = 0; m < M; m++) {
      emu::Buf x1(T, row(m));
      GemvSegs one = segs;
      std::vector<emu::Buf> y1;
      for (int i = 0; i < 3; i++) {
        y1.emplace_back(T, std::vector<float>(Ns[i], NAN));
        one.s[i].y = y1[i].p();
        if (i != 1) one.s[i].lora = at_row(ls[i], m);
      }
      emu::launch(grid(groups), dim3(kThreads), smem, [&] { gemv_multi_k<R, 4, T>(x1.p(), one, K, K / 64, false); });
      for (int i = 0; i < 3; i++) {
        auto a = y1[i].f32(), b = ys[i].f32();
        same_multi = same_multi && std::equal(a.begin(), a.end(), b.begin() + m * Ns[i]);
      }
    }
  }
  {
    const long long N = 20;
    NF4W wg, wu;
    nf4_weight(wg, N, K, 64, false);
    nf4_weight(wu, N, K, 64, true);
    Adapter lg = adapter_rows(N, 16, 2.0f), lu = adapter_rows(N, 8, 0.5f);
    emu::Buf h(T, std::vector<float>(M * N, NAN));
    by_rows(M, [&](auto mb, auto s) {
      emu::launch(grid((N + R - 1) / R), dim3(kThreads), smem, [&] {
        gemv_swiglu_k<R, decltype(s)::value, T, decltype(mb)::value>(x.p(), wg.qz.w, wu.qz.w, N, K, K / 64, h.p(),
                                                                     lg.view(), lu.view(), M);
      });
    });
    const auto hf = h.f32();
    for (long long m = 0; m < M; m++) {
      emu::Buf x1(T, row(m)), h1(T, std::vector<float>(N, NAN));
      emu::launch(grid((N + R - 1) / R), dim3(kThreads), smem, [&] {
        gemv_swiglu_k<R, 4, T>(x1.p(), wg.qz.w, wu.qz.w, N, K, K / 64, h1.p(), at_row(lg, m), at_row(lu, m));
      });
      auto a = h1.f32();
      same_swiglu = same_swiglu && std::equal(a.begin(), a.end(), hf.begin() + m * N);
    }
  }
  printf("gemv multi (q/k/v + LoRA), %lld rows of x in one launch %-4s  %s\n", M, emu::dname(T),
         same_multi ? "bit for bit" : "DIFFERENT");
  printf("gemv + SwiGLU + LoRA, %lld rows of x in one launch %-4s       %s\n", M, emu::dname(T),
         same_swiglu ? "bit for bit" : "DIFFERENT");
  emu::expect(same_multi);
  emu::expect(same_swiglu);
}

int main() {
  std::memcpy(kNF4, NF4_CODE, sizeof(kNF4));  // what upload_code() copies to the device
  run(64 * 37 + 6, 64, false);
  run(4096 + 8 * 3, 256, true);
  run(1000, 32, true);
  gemv<DType::F32>(37, 4096, 64, true, true);  // several steps of 32·32·S columns, a partial row group
  gemv<DType::F32>(8, 8192, 64, false, false);
  gemv<DType::BF16>(21, 1024, 64, true, true);
  gemv<DType::F16>(5, 2048, 128, true, false);
  gemv<DType::F32>(13, 2048, 64, true, true, true);  // a residual joined in the epilogue
  gemv<DType::BF16>(9, 1024, 64, false, false, true);
  multi<DType::F32>(1024);
  multi<DType::BF16>(512);
  swiglu<DType::F32>(37, 1024);
  swiglu<DType::BF16>(64, 512);
  batch<DType::F32, 2, 2>(2, 37, 2048);
  batch<DType::BF16, 4, 2>(3, 20, 1024);
  batch<DType::F16, 8, 1>(8, 13, 512);
  batch<DType::F32, 8, 1>(5, 9, 4096);
  lora_epilogue<DType::F32>(1024);
  lora_epilogue<DType::BF16>(512);
  lora_epilogue<DType::F16>(512);
  fused_batch<DType::F32>(2, 1024);
  fused_batch<DType::BF16>(3, 512);
  fused_batch<DType::F16>(8, 512);
  fused_batch<DType::F32>(6, 2048);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all NF4 cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
