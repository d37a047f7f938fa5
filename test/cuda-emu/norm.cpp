// RMSNorm and LayerNorm's CUDA kernels (native/cuda/norm.cuh) on the emulator against the CPU
// reference (native/cpu/norm.cpp): y and the saved statistics, dx, and the weight (and bias) grads,
// written and accumulated. Both compute the statistics in double; only the summation order differs,
// so they must agree to 1e-6 relative. Exits 1 otherwise.
#include "emu.h"
#include "norm.cuh"
#include "plf/norm.h"
#include <cstdio>

using namespace plf;
using namespace plf::cuda;
using emu::randn;

static void check(const char* what, const std::vector<float>& got, const std::vector<float>& want, long long rows,
                  long long dim) {
  double e = emu::max_rel(got, want);
  printf("%-28s [%lld,%lld]: %.2e\n", what, rows, dim, e);
  emu::expect(e <= 1e-6);
}

static void run(long long rows, long long dim) {
  auto x = randn(rows * dim), w = randn(dim), b = randn(dim), dy = randn(rows * dim), acc = randn(dim);
  const float eps = 1e-5f;
  std::vector<float> y(rows * dim, NAN), rstd(rows, NAN), mean(rows, NAN), dx(rows * dim, NAN), dw(dim), db(dim);
  std::vector<float> cy(rows * dim), crstd(rows), cmean(rows), cdx(rows * dim), cdw(dim), cdb(dim);
  // RMSNorm
  emu::launch(dim3(unsigned(rows)), dim3(kNormT), 0,
              [&] { rms_fwd_k(x.data(), w.data(), dim, eps, y.data(), rstd.data()); });
  cpu::rmsnorm_forward(x.data(), w.data(), rows, dim, eps, cy.data(), crstd.data());
  check("rmsnorm forward y", y, cy, rows, dim);
  check("rmsnorm forward rstd", rstd, crstd, rows, dim);
  emu::launch(dim3(unsigned(rows)), dim3(kNormT), 0,
              [&] { rms_bwd_dx_k(dy.data(), x.data(), w.data(), rstd.data(), dim, dx.data()); });
  for (bool accumulate : {false, true}) {
    dw = acc, cdw = acc;
    emu::launch(dim3(unsigned((dim + 127) / 128)), dim3(128), 0,
                [&] { rms_bwd_dw_k(dy.data(), x.data(), rstd.data(), rows, dim, dw.data(), accumulate); });
    cpu::rmsnorm_backward(dy.data(), x.data(), w.data(), crstd.data(), rows, dim, cdx.data(), cdw.data(), accumulate);
    check(accumulate ? "rmsnorm dw (accumulated)" : "rmsnorm dw", dw, cdw, rows, dim);
  }
  check("rmsnorm dx", dx, cdx, rows, dim);
  // LayerNorm
  emu::launch(dim3(unsigned(rows)), dim3(kNormT), 0,
              [&] { ln_fwd_k(x.data(), w.data(), b.data(), dim, eps, y.data(), mean.data(), rstd.data()); });
  cpu::layernorm_forward(x.data(), w.data(), b.data(), rows, dim, eps, cy.data(), cmean.data(), crstd.data());
  check("layernorm forward y", y, cy, rows, dim);
  check("layernorm forward mean", mean, cmean, rows, dim);
  emu::launch(dim3(unsigned(rows)), dim3(kNormT), 0,
              [&] { ln_bwd_dx_k(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dim, dx.data()); });
  dw = acc, db = acc, cdw = acc, cdb = acc;
  emu::launch(dim3(unsigned((dim + 127) / 128)), dim3(128), 0, [&] {
    ln_bwd_dwb_k(dy.data(), x.data(), mean.data(), rstd.data(), rows, dim, dw.data(), db.data(), true);
  });
  cpu::layernorm_backward(dy.data(), x.data(), w.data(), cmean.data(), crstd.data(), rows, dim, cdx.data(), cdw.data(),
                          cdb.data(), true);
  check("layernorm dx", dx, cdx, rows, dim);
  check("layernorm dw (accumulated)", dw, cdw, rows, dim);
  check("layernorm db (accumulated)", db, cdb, rows, dim);
}

int main() {
  run(3, 7);
  run(5, 300);
  run(2, 1030);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all norm cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
