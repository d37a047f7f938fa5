// The GEMM kernels (native/cuda/gemm_kernels.cuh) on the emulator, wmma included (wmma.h): the
// tensor-core kernel (bf16 and f16 operands, f32 accumulation) for x·Wᵀ and dy·W against NF4 and
// bf16 weights and against a plain matrix, with A rounded once by the host (f32 activations), read
// in place (16-bit activations) or strided, and C in f32 or bf16, written or accumulated (beta = 1);
// and the f32 SIMT kernel with 16-bit A and C. Against double loops over the operands as the kernel
// rounds them: f32 C within 1e-5 of the largest value, 16-bit C within one ulp. Exits 1 otherwise.
// emu-link: native/cpu/nf4.cpp
#include "emu.h"
#include "wmma.h"
#include "half.h"
#include "plf/nf4.h"

namespace plf {
namespace cuda {
static float kNF4[16];  // gemm.cu's device copy of the code (filled in main)
}  // namespace cuda
}  // namespace plf
#include "gemm_kernels.cuh"
#include <cstdio>
#include <cstring>

using namespace plf;
using namespace plf::cuda;
using emu::Buf;

enum class BKind { NF4, BF16, Matrix };
static const char* bname(BKind b) { return b == BKind::NF4 ? "NF4 W" : b == BKind::BF16 ? "bf16 W" : "matrix"; }

// B(k, n) as the kernel sees it, rounded to the operand type e
struct Bsrc {
  BKind kind;
  bool trans;  // W [N, K] (x·Wᵀ) or W [K, N] (dy·W); a matrix is [K, N]
  long long rows, cols;
  std::vector<uint8_t> packed;
  std::vector<float> absmax, f32;
  std::vector<uint16_t> w16;
  WeightView view() const {
    WeightView w;
    w.rows = rows;
    w.cols = cols;
    if (kind == BKind::NF4) {
      w.dtype = DType::U8;
      w.nf4.packed = packed.data();
      w.nf4.absmax = absmax.data();
      w.nf4.blocksize = 64;
      w.nf4.numel = rows * cols;
    } else {
      w.dtype = DType::BF16;
      w.data = w16.data();
    }
    return w;
  }
  float at(long long k, long long n) const {  // the exact stored value
    long long i = kind == BKind::Matrix ? k * cols + n : trans ? n * cols + k : k * cols + n;
    if (kind == BKind::NF4) {
      unsigned char q = packed[i >> 1];
      return NF4_CODE[(i & 1) ? (q & 15) : (q >> 4)] * absmax[i / 64];
    }
    if (kind == BKind::BF16) return bf16_to_f32(w16[i]);
    return f32[i];
  }
};

static Bsrc make_b(BKind kind, bool trans, long long K, long long N) {
  Bsrc b{kind, trans, trans ? N : K, trans ? K : N, {}, {}, {}, {}};
  long long n = K * N;
  if (kind == BKind::NF4) {
    b.packed.resize(n / 2);
    for (auto& p : b.packed) p = uint8_t(emu::rng() & 255);
    b.absmax = emu::randn((n + 63) / 64);
  } else if (kind == BKind::BF16) {
    b.w16.resize(n);
    auto v = emu::randn(n);
    for (long long i = 0; i < n; i++) b.w16[i] = f32_to_bf16(v[i]);
  } else {
    b.f32 = emu::randn(n);
  }
  return b;
}

template <typename E, bool BRow>
static void launch_tc(long long M, long long N, long long K, float alpha, StridedA A, OperandB B, float beta, OutC C,
                      tc::Fast fast) {
  emu::launch(dim3(unsigned((N + tc::TBN - 1) / tc::TBN), unsigned((M + tc::TBM - 1) / tc::TBM)), dim3(tc::kT), 0,
              [&] { tc::gemm_tc_k<E, BRow>(M, N, K, alpha, A, B, beta, C, fast); });
}

// one product: e = the operand type (BF16/F16 tensor cores, F32 = the SIMT kernel); at = A's dtype;
// a_mode: 0 rounded by the host (f32 A), 1 in place (A already e), 2 strided (A stored transposed)
static void run(DType e, DType at, int a_mode, BKind bk, bool trans, DType ct, float beta, long long M, long long N,
                long long K) {
  auto r16 = [e](float v) { return e == DType::F32 ? v : emu::rounded(e, {v})[0]; };
  Buf a(at, emu::randn(M * K));  // a_mode 2: A(m, k) at a[k·M + m]
  auto af = a.f32();
  Bsrc b = make_b(bk, trans, K, N);
  Buf c(ct, emu::randn(M * N));
  auto c0 = c.f32();
  std::vector<double> want(M * N);
  const float alpha = 0.75f;
  for (long long m = 0; m < M; m++)
    for (long long n = 0; n < N; n++) {
      double s = 0;
      for (long long k = 0; k < K; k++)
        s += double(r16(a_mode == 2 ? af[k * M + m] : af[m * K + k])) * double(r16(b.at(k, n)));
      want[m * N + n] = alpha * s + beta * c0[m * N + n];
    }
  StridedA A = a_mode == 2 ? StridedA{a.p(), 1, M, at} : StridedA{a.p(), K, 1, at};
  OperandB B = bk == BKind::Matrix ? mat(b.f32.data(), N, 1) : weight(b.view(), trans);
  OutC C{Act{c.p(), ct}, N};
  if (e == DType::F32) {
    emu::launch(dim3(unsigned((N + BN - 1) / BN), unsigned((M + BM - 1) / BM)), dim3(kThreads), 0,
                [&] { gemm_k(M, N, K, alpha, A, B, beta, C); });
  } else {
    tc::Fast fast{};
    Buf a16(e, a_mode == 0 ? af : std::vector<float>{});  // the host's one rounding of an f32 A
    fast.a = a_mode != 2 && K % 8 == 0;
    fast.a16 = a_mode == 1 ? a.p() : a16.p();
    fast.nf4 = bk == BKind::NF4 && (trans ? K % 8 == 0 : N % 8 == 0);
    fast.am = b.absmax.data();
    const bool brow = B.weight ? !B.trans : B.cs == 1;
    if (e == DType::BF16)
      brow ? launch_tc<__nv_bfloat16, true>(M, N, K, alpha, A, B, beta, C, fast)
           : launch_tc<__nv_bfloat16, false>(M, N, K, alpha, A, B, beta, C, fast);
    else
      brow ? launch_tc<__half, true>(M, N, K, alpha, A, B, beta, C, fast)
           : launch_tc<__half, false>(M, N, K, alpha, A, B, beta, C, fast);
  }
  char what[120];
  snprintf(what, sizeof what, "%s A %s%s, %s%s, C %s beta %g [%lld,%lld,%lld]",
           e == DType::F32    ? "simt"
           : e == DType::BF16 ? "tc bf16"
                              : "tc f16",
           emu::dname(at),
           a_mode == 0   ? ""
           : a_mode == 1 ? " in place"
                         : " strided",
           bname(bk),
           bk == BKind::Matrix ? ""
           : trans             ? "ᵀ"
                               : "",
           emu::dname(ct), beta, M, N, K);
  std::vector<float> wf(want.begin(), want.end());
  emu::expect_act(what, ct, c.f32(), wf, 1e-5);
}

int main() {
  std::memcpy(kNF4, NF4_CODE, sizeof kNF4);
  const auto F32 = DType::F32, BF = DType::BF16, H = DType::F16;
  // x·Wᵀ (NF4, fast paths), dy·W, partial tiles on every edge
  run(BF, F32, 0, BKind::NF4, true, F32, 0.0f, 130, 136, 96);
  run(BF, BF, 1, BKind::NF4, true, BF, 0.0f, 70, 200, 64);
  run(BF, BF, 1, BKind::NF4, false, BF, 1.0f, 129, 72, 160);
  run(H, H, 1, BKind::NF4, true, H, 0.0f, 64, 64, 32);
  run(BF, BF, 1, BKind::BF16, true, F32, 1.0f, 100, 130, 48);
  run(BF, BF, 2, BKind::Matrix, false, F32, 0.0f, 65, 70, 40);
  run(H, F32, 0, BKind::BF16, false, H, 0.0f, 90, 128, 72);
  // the f32 SIMT kernel with 16-bit A and C
  run(F32, BF, 1, BKind::NF4, true, BF, 0.0f, 70, 65, 40);
  run(F32, F32, 2, BKind::Matrix, false, F32, 1.0f, 33, 70, 17);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all GEMM cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
