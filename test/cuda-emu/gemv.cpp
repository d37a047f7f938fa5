// The dense GEMV (native/cuda/gemv.cuh: y = x·Wᵀ + bias for M <= 8 rows, W f32/bf16/f16) on the
// emulator against plain double loops, with 16-byte loads and with the one-element fallback; x and
// y also bf16/f16 in place (y within one ulp of the loops' rounded sum).
// Exits 1 when a value is off by more than 1e-5 relative to the largest (or the one ulp).
#include "emu.h"
#include "half.h"
#include "gemv.cuh"
#include <cstdio>
#include <cstring>

using namespace plf;
using namespace plf::cuda;

using emu::randn;

template <DType DT, DType TX = DType::F32>
static void run(long long M, long long K, long long N, bool with_bias, bool into = false) {
  emu::Buf xb(TX, randn(M * K));
  auto x = xb.f32();
  auto wf = randn(N * K), bias = randn(N);
  std::vector<uint16_t> w16(N * K);
  for (long long i = 0; i < N * K; i++) {
    w16[i] = DT == DType::BF16 ? f32_to_bf16(wf[i]) : f32_to_f16(wf[i]);
    if (DT != DType::F32)
      wf[i] = DT == DType::BF16 ? bf16_to_f32(w16[i]) : f16_to_f32(w16[i]);  // the values the kernel sees
  }
  // 16-byte aligned copies, as cudaMalloc gives
  std::vector<float4> xa((M * K + 3) / 4 + 1), wa((N * K + 3) / 4 + 1);
  std::memcpy(xa.data(), x.data(), x.size() * 4);
  if (DT == DType::F32)
    std::memcpy(wa.data(), wf.data(), wf.size() * 4);
  else
    std::memcpy(wa.data(), w16.data(), w16.size() * 2);
  const void* xp = TX == DType::F32 ? static_cast<const void*>(xa.data()) : xb.p();
  // into: y holds a residual the GEMV adds to (y += W·x + bias); else NaN, which must be overwritten
  auto resid = randn(M * N);
  emu::Buf yb(TX, into ? resid : std::vector<float>(M * N, NAN));
  auto r0 = yb.f32();  // the residual as the kernel reads it (rounded to TX)
  int V = DT == DType::F32 ? 4 : 8;
  bool vec = K % V == 0;
  emu::launch(dim3(unsigned((N * 32 + 255) / 256)), dim3(256), 0, [&] {
    dense_gemv_k<DT, TX>(xp, M, K, wa.data(), N, with_bias ? bias.data() : nullptr, yb.p(), vec, into);
  });
  std::vector<double> want(M * N);
  for (long long m = 0; m < M; m++)
    for (long long n = 0; n < N; n++) {
      double s = with_bias ? bias[n] : 0.0;
      for (long long k = 0; k < K; k++) s += double(x[m * K + k]) * wf[n * K + k];
      want[m * N + n] = s + (into ? double(r0[m * N + n]) : 0.0);
    }
  char what[96];
  snprintf(what, sizeof what, "gemv W %-4s x %-4s M%lld K%lld N%lld %s%s%s", emu::dname(DT), emu::dname(TX), M, K, N,
           vec ? "16-byte loads" : "one element", with_bias ? ", bias" : "", into ? ", into y" : "");
  if (TX == DType::F32) {
    double e = emu::max_rel(yb.f32(), want);
    printf("%-62s %.2e\n", what, e);
    emu::expect(e <= 1e-5);
  } else {
    std::vector<float> wf32(want.begin(), want.end());
    long long u = emu::max_ulp(TX, yb.f32(), emu::rounded(TX, wf32), &want);
    printf("%-62s %lld ulp\n", what, u);
    emu::expect(u <= 1);
  }
}

int main() {
  run<DType::F32>(1, 256, 45, true);
  run<DType::F32>(3, 70, 33, false);
  run<DType::BF16>(8, 512, 20, true);
  run<DType::BF16>(2, 36, 17, false);
  run<DType::F16>(5, 128, 40, false);
  run<DType::F16>(1, 1000, 9, true);
  run<DType::BF16, DType::BF16>(8, 512, 20, true);
  run<DType::F32, DType::BF16>(3, 256, 33, false);
  run<DType::F16, DType::F16>(2, 36, 17, true);
  run<DType::F32>(3, 256, 33, true, true);  // a residual joined in the epilogue
  run<DType::BF16, DType::BF16>(1, 512, 20, false, true);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all GEMV cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
