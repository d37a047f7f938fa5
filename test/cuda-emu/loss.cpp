// Cross-entropy and BCE's CUDA kernels (native/cuda/loss.cuh) on the emulator against the CPU
// reference (native/cpu/loss.cpp): the per-row terms (summed in row order, as loss.cu does on the
// host) and dlogits, with ignored targets. Terms in double on both sides: within 1e-9 relative for
// the loss, 1e-6 for the gradients. Exits 1 otherwise.
#include "emu.h"
#include "loss.cuh"
#include "plf/loss.h"
#include <cstdio>

using namespace plf;
using namespace plf::cuda;
using emu::randn;

static void run(long long rows, long long vocab) {
  auto logits = randn(rows * vocab, 3.0f);
  std::vector<int64_t> targets(rows);
  for (long long r = 0; r < rows; r++) targets[r] = r % 4 == 1 ? -100 : (r * 7919) % vocab;
  std::vector<double> term(rows, NAN);
  emu::launch(dim3(unsigned(rows)), dim3(kLossT), 0,
              [&] { ce_fwd_k(logits.data(), targets.data(), vocab, -100, term.data()); });
  double total = 0;
  long long n = 0;
  for (long long r = 0; r < rows; r++) total += term[r], n += targets[r] != -100;
  int64_t count = 0;
  double want = cpu::cross_entropy_forward(logits.data(), targets.data(), rows, vocab, -100, &count);
  double e = std::fabs(total / double(n) - want) / std::fabs(want);
  printf("cross-entropy loss [%lld,%lld]: %.2e\n", rows, vocab, e);
  emu::expect(e <= 1e-9 && count == n);
  std::vector<float> d(rows * vocab, NAN), cd(rows * vocab);
  const float dloss = 0.7f;
  emu::launch(dim3(unsigned(rows)), dim3(kLossT), 0,
              [&] { ce_bwd_k(logits.data(), targets.data(), vocab, -100, double(dloss) / double(n), d.data()); });
  cpu::cross_entropy_backward(logits.data(), targets.data(), rows, vocab, -100, dloss, cd.data());
  double ed = emu::max_rel(d, cd);
  printf("cross-entropy dlogits [%lld,%lld]: %.2e\n", rows, vocab, ed);
  emu::expect(ed <= 1e-6);
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

int main() {
  run(5, 7);
  run(9, 1000);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all loss cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
