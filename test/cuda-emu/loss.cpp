// Cross-entropy and BCE's CUDA kernels (native/cuda/loss.cuh) on the emulator against the CPU
// reference (native/cpu/loss.cpp): the per-row terms (summed in row order, as loss.cu does on the
// host) and dlogits, with ignored targets. Terms in double on both sides: within 1e-9 relative for
// the loss, 1e-6 for the gradients; with 16-bit logits (read in place, dlogits written in place) the
// terms against the CPU on the same values and dlogits within one ulp of the staged CPU result.
// Exits 1 otherwise.
#include "emu.h"
#include "half.h"
#include "loss.cuh"
#include "plf/loss.h"
#include <cstdio>

using namespace plf;
using namespace plf::cuda;
using emu::randn;

template <DType T>
static void run(long long rows, long long vocab) {
  emu::Buf lb(T, randn(rows * vocab, 3.0f));
  auto logits = lb.f32();  // the values the kernels read
  std::vector<int64_t> targets(rows);
  for (long long r = 0; r < rows; r++) targets[r] = r % 4 == 1 ? -100 : (r * 7919) % vocab;
  std::vector<double> term(rows, NAN);
  emu::launch(dim3(unsigned(rows)), dim3(kLossT), 0,
              [&] { ce_fwd_k<T>(lb.p(), targets.data(), vocab, -100, term.data()); });
  double total = 0;
  long long n = 0;
  for (long long r = 0; r < rows; r++) total += term[r], n += targets[r] != -100;
  int64_t count = 0;
  double want = cpu::cross_entropy_forward(logits.data(), targets.data(), rows, vocab, -100, &count);
  double e = std::fabs(total / double(n) - want) / std::fabs(want);
  printf("cross-entropy loss %-4s [%lld,%lld]: %.2e\n", emu::dname(T), rows, vocab, e);
  emu::expect(e <= 1e-9 && count == n);
  emu::Buf db(T, std::vector<float>(rows * vocab, NAN));
  std::vector<float> cd(rows * vocab);
  const float dloss = 0.7f;
  emu::launch(dim3(unsigned(rows)), dim3(kLossT), 0,
              [&] { ce_bwd_k<T>(lb.p(), targets.data(), vocab, -100, double(dloss) / double(n), db.p()); });
  cpu::cross_entropy_backward(logits.data(), targets.data(), rows, vocab, -100, dloss, cd.data());
  if (T == DType::F32) {
    double ed = emu::max_rel(db.f32(), cd);
    printf("cross-entropy dlogits f32  [%lld,%lld]: %.2e\n", rows, vocab, ed);
    emu::expect(ed <= 1e-6);
  } else {
    long long u = emu::max_ulp(T, db.f32(), emu::rounded(T, cd));
    printf("cross-entropy dlogits %-4s [%lld,%lld]: %lld ulp\n", emu::dname(T), rows, vocab, u);
    emu::expect(u <= 1);
  }
  if (T != DType::F32) return;  // BCE stays f32 (its [batch, labels] tensors are staged)
  // BCE over the same logits as a multi-label batch
  long long m = rows * vocab;
  std::vector<float> labels(m);
  for (long long i = 0; i < m; i++) labels[i] = (i * 13) % 3 == 0 ? 1.0f : 0.0f;
  std::vector<double> bt(m, NAN);
  emu::launch(dim3(unsigned((m + 255) / 256)), dim3(256), 0,
              [&] { bce_fwd_k(logits.data(), labels.data(), m, bt.data()); });
  double s = 0;
  for (double v : bt) s += v;
  double bw = cpu::bce_logits_forward(logits.data(), labels.data(), m);
  double eb = std::fabs(s / double(m) - bw) / std::fabs(bw);
  printf("bce loss [%lld]: %.2e\n", m, eb);
  emu::expect(eb <= 1e-9);
  std::vector<float> bd(m, NAN), cbd(m);
  emu::launch(dim3(unsigned((m + 255) / 256)), dim3(256), 0,
              [&] { bce_bwd_k(logits.data(), labels.data(), m, double(dloss) / double(m), bd.data()); });
  cpu::bce_logits_backward(logits.data(), labels.data(), m, dloss, cbd.data());
  double ebd = emu::max_rel(bd, cbd);
  printf("bce dlogits [%lld]: %.2e\n", m, ebd);
  emu::expect(ebd <= 1e-6);
}

// greedy decoding's pick: rows with ties (the first maximum wins), NaN inside (skipped) and in column
// 0 (kept), all -inf, and a maximum in the last column; 16-bit rows read in place
template <DType T>
static void argmax(long long vocab) {
  const long long rows = 6;
  std::vector<float> v = emu::randn(rows * vocab);
  float* r = v.data();
  r[3] = r[vocab - 2] = 9.0f;                                          // row 0: a tie, the first wins
  r[vocab + 1] = NAN, r[vocab + 5] = 8.0f;                             // row 1: NaN skipped
  r[2 * vocab] = NAN;                                                  // row 2: NaN in column 0 stays
  for (long long i = 0; i < vocab; i++) r[3 * vocab + i] = -INFINITY;  // row 3: all -inf
  r[5 * vocab - 1] = 7.0f;                                             // row 4: the last column
  emu::Buf x(T, v);
  auto xf = x.f32();
  std::vector<int64_t> got(rows, -7), want(rows);
  emu::launch(dim3(unsigned(rows)), dim3(kLossT), 0, [&] { argmax_k<T>(x.p(), vocab, got.data()); });
  cpu::argmax_rows(xf.data(), rows, vocab, want.data());
  bool ok = got == want && want[0] == 3 && want[1] == 5 && want[2] == 0 && want[3] == 0 && want[4] == vocab - 1;
  printf("argmax rows %-4s [%lld,%lld]: %s\n", emu::dname(T), rows, vocab, ok ? "equal" : "DIFFERENT");
  emu::expect(ok);
}

int main() {
  argmax<DType::F32>(1000);
  argmax<DType::BF16>(37);
  run<DType::F32>(5, 7);
  run<DType::F32>(9, 1000);
  run<DType::BF16>(9, 1000);
  run<DType::F16>(5, 300);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all loss cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
