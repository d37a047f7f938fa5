// AdamW's CUDA kernels (native/cuda/optim.cuh) on the emulator against native/cpu/optim.cpp: the
// inf/nan + norm pass then the update, and the one-pass update that sums the norm as it goes; f32
// parameters (16-byte and element paths) and a bf16 parameter through its f32 master. The update
// must be bit-identical; the norm within 1e-12. Exits 1 otherwise.
#include "emu.h"
#include "optim.cuh"
#include <cstdio>

using namespace plf;
using namespace plf::cuda;

using emu::randn;

struct Set {  // one parameter list: params (bf16 ones with a master), grads, moments
  std::vector<std::vector<float>> p, g, m, v, master;
  std::vector<std::vector<uint16_t>> p16;
  std::vector<AdamWParam> table() {
    std::vector<AdamWParam> t(p.size());
    for (size_t i = 0; i < p.size(); i++) {
      bool half = !p16[i].empty();
      t[i].dtype = half ? DType::BF16 : DType::F32;
      t[i].param = half ? static_cast<void*>(p16[i].data()) : p[i].data();
      t[i].master = half ? master[i].data() : nullptr;
      t[i].grad = g[i].data();
      t[i].m = m[i].data();
      t[i].v = v[i].data();
      t[i].n = int64_t(g[i].size());
    }
    return t;
  }
};

static void run(bool one_pass, double max_norm) {
  // sizes: several chunks, a 16-byte multiple, an odd one (element path), a bf16 parameter
  const std::vector<size_t> sizes = {70001, 4096, 33, 1000};
  Set a;
  for (size_t i = 0; i < sizes.size(); i++) {
    a.p.push_back(randn(sizes[i], 0.1f));
    a.g.push_back(randn(sizes[i]));
    a.m.push_back(randn(sizes[i], 0.01f));
    std::vector<float> v = randn(sizes[i], 0.01f);
    for (auto& x : v) x = x * x;
    a.v.push_back(v);
    a.p16.emplace_back();
    a.master.emplace_back();
  }
  a.p16[3].resize(sizes[3]);  // the last one is bf16 with an f32 master
  a.master[3] = a.p[3];
  for (size_t j = 0; j < sizes[3]; j++) a.p16[3][j] = f32_to_bf16(a.p[3][j]);
  Set b = a;
  AdamWConfig cfg;
  cfg.lr = 1e-2;
  cfg.weight_decay = 0.01;
  cfg.step = 3;
  cfg.max_grad_norm = max_norm;
  cfg.skip_nonfinite = !one_pass;
  auto ta = a.table();
  AdamWResult ref = cpu::adamw_step(ta.data(), int64_t(ta.size()), cfg);

  // the device side as optim.cu drives it
  auto tb = b.table();
  std::vector<Chunk> chunks;
  for (size_t t = 0; t < tb.size(); t++)
    for (long long s = 0; s < tb[t].n; s += kChunk) chunks.push_back({int(t), s});
  std::vector<double> part(chunks.size(), NAN);
  int bad = 0;
  double clip = 1.0, norm = 0.0;
  auto sum_parts = [&] {
    double s = 0;
    for (double x : part) s += x;
    return std::sqrt(s);
  };
  if (!one_pass) {
    emu::launch(dim3(unsigned(chunks.size())), dim3(kT), 0,
                [&] { sumsq_k(tb.data(), chunks.data(), part.data(), &bad); });
    norm = sum_parts();
    if (cfg.max_grad_norm > 0) clip = std::min(1.0, cfg.max_grad_norm / (norm + 1e-6));
  }
  const Coeffs k = adamw_coeffs(cfg, clip);
  emu::launch(dim3(unsigned(chunks.size())), dim3(kT), 0,
              [&] { adamw_k(tb.data(), chunks.data(), k, one_pass ? part.data() : nullptr); });
  if (one_pass) norm = sum_parts();

  bool same = bad == 0;
  for (size_t i = 0; i < a.p.size(); i++) {
    same = same && a.p[i] == b.p[i] && a.m[i] == b.m[i] && a.v[i] == b.v[i] && a.master[i] == b.master[i] &&
           a.p16[i] == b.p16[i];
  }
  double dn = std::fabs(norm - ref.grad_norm) / ref.grad_norm;
  printf("adamw %s, max_grad_norm %.1f: update %s, norm %.3e vs CPU (rel %.1e)\n",
         one_pass ? "one pass " : "two passes", max_norm, same ? "bit-identical" : "DIFFERS", norm, dn);
  emu::expect(same && dn < 1e-12);
}

int main() {
  run(false, 0.0);
  run(false, 1.0);
  run(true, 0.0);
  printf(emu::failures ? "FAILED: %d cases off\n" : "AdamW matches the CPU\n", emu::failures);
  return emu::failures ? 1 : 0;
}
