// RMSNorm and LayerNorm's CUDA kernels (native/cuda/norm.cuh) on the emulator against the CPU
// reference (native/cpu/norm.cpp): y and the saved statistics, dx, and the weight (and bias) grads,
// written and accumulated. Both compute the statistics in double; only the summation order differs,
// so they must agree to 1e-6 relative. With 16-bit activations (x, dy read, y, dx written in place)
// the kernels must equal the staged CPU path (f32 math on the same values, rounded once) within one
// unit in the last place. Exits 1 otherwise.
#include "emu.h"
#include "half.h"
#include "norm.cuh"
#include "plf/norm.h"
#include <cstdio>

using namespace plf;
using namespace plf::cuda;
using emu::randn;

static void check(const char* what, DType t, const std::vector<float>& got, const std::vector<float>& want,
                  long long rows, long long dim) {
  double e = emu::max_rel(got, want);
  printf("%-28s %-4s [%lld,%lld]: %.2e\n", what, emu::dname(t), rows, dim, e);
  emu::expect(e <= 1e-6);
}
// an activation output: f32 to 1e-6, 16-bit within one ulp of the staged CPU result
static void check_act(const char* what, DType t, const std::vector<float>& got, const std::vector<float>& cpu,
                      long long rows, long long dim) {
  if (t == DType::F32) return check(what, t, got, cpu, rows, dim);
  long long u = emu::max_ulp(t, got, emu::rounded(t, cpu));
  printf("%-28s %-4s [%lld,%lld]: %lld ulp\n", what, emu::dname(t), rows, dim, u);
  emu::expect(u <= 1);
}

template <DType T>
static void run(long long rows, long long dim) {
  emu::Buf x(T, randn(rows * dim)), dy(T, randn(rows * dim));
  auto xf = x.f32(), dyf = dy.f32();  // the values the kernels read (and the CPU gets, staged)
  auto w = randn(dim), b = randn(dim), acc = randn(dim);
  const float eps = 1e-5f;
  emu::Buf y(T, rows * dim), dx(T, rows * dim);
  std::vector<float> rstd(rows, NAN), mean(rows, NAN), dw(dim), db(dim);
  std::vector<float> cy(rows * dim), crstd(rows), cmean(rows), cdx(rows * dim), cdw(dim), cdb(dim);
  // RMSNorm
  emu::launch(dim3(unsigned(rows)), dim3(kNormT), 0,
              [&] { rms_fwd_k<T>(x.p(), w.data(), dim, eps, y.p(), rstd.data()); });
  cpu::rmsnorm_forward(xf.data(), w.data(), rows, dim, eps, cy.data(), crstd.data());
  check_act("rmsnorm forward y", T, y.f32(), cy, rows, dim);
  check("rmsnorm forward rstd", T, rstd, crstd, rows, dim);
  emu::launch(dim3(unsigned(rows)), dim3(kNormT), 0,
              [&] { rms_bwd_dx_k<T>(dy.p(), x.p(), w.data(), rstd.data(), dim, dx.p()); });
  for (bool accumulate : {false, true}) {
    dw = acc, cdw = acc;
    emu::launch(dim3(unsigned((dim + 127) / 128)), dim3(128), 0,
                [&] { rms_bwd_dw_k<T>(dy.p(), x.p(), rstd.data(), rows, dim, dw.data(), accumulate); });
    cpu::rmsnorm_backward(dyf.data(), xf.data(), w.data(), crstd.data(), rows, dim, cdx.data(), cdw.data(), accumulate);
    check(accumulate ? "rmsnorm dw (accumulated)" : "rmsnorm dw", T, dw, cdw, rows, dim);
  }
  check_act("rmsnorm dx", T, dx.f32(), cdx, rows, dim);
  // LayerNorm
  emu::launch(dim3(unsigned(rows)), dim3(kNormT), 0,
              [&] { ln_fwd_k<T>(x.p(), w.data(), b.data(), dim, eps, y.p(), mean.data(), rstd.data()); });
  cpu::layernorm_forward(xf.data(), w.data(), b.data(), rows, dim, eps, cy.data(), cmean.data(), crstd.data());
  check_act("layernorm forward y", T, y.f32(), cy, rows, dim);
  check("layernorm forward mean", T, mean, cmean, rows, dim);
  emu::launch(dim3(unsigned(rows)), dim3(kNormT), 0,
              [&] { ln_bwd_dx_k<T>(dy.p(), x.p(), w.data(), mean.data(), rstd.data(), dim, dx.p()); });
  dw = acc, db = acc, cdw = acc, cdb = acc;
  emu::launch(dim3(unsigned((dim + 127) / 128)), dim3(128), 0,
              [&] { ln_bwd_dwb_k<T>(dy.p(), x.p(), mean.data(), rstd.data(), rows, dim, dw.data(), db.data(), true); });
  cpu::layernorm_backward(dyf.data(), xf.data(), w.data(), cmean.data(), crstd.data(), rows, dim, cdx.data(),
                          cdw.data(), cdb.data(), true);
  check_act("layernorm dx", T, dx.f32(), cdx, rows, dim);
  check("layernorm dw (accumulated)", T, dw, cdw, rows, dim);
  check("layernorm db (accumulated)", T, db, cdb, rows, dim);
}

int main() {
  run<DType::F32>(3, 7);
  run<DType::F32>(5, 300);
  run<DType::F32>(2, 1030);
  run<DType::BF16>(5, 300);
  run<DType::F16>(2, 1030);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all norm cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
