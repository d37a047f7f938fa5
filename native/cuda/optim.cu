// AdamW on CUDA as one multi-tensor launch: the tensors are cut into chunks of 64 Ki elements and
// a table of (tensor, start) drives one grid over all of them. The update is torch's single-tensor
// AdamW step by step with explicit roundings (no FMA contraction), as native/cpu/optim.cpp; the
// global gradient norm is summed per chunk on the device and over chunks, in order, on the host.
#include "plf/optim.h"
#include "check.cuh"
#include "optim.cuh"
#include <algorithm>
#include <cmath>
#include <vector>

namespace plf {
namespace cuda {

AdamWResult adamw_step(AdamWParam* params, int64_t count, const AdamWConfig& cfg) {
  AdamWResult res;
  std::vector<Chunk> chunks;
  for (int64_t t = 0; t < count; t++)
    for (long long s = 0; s < params[t].n; s += kChunk) chunks.push_back({int(t), s});
  if (chunks.empty()) return res;
  Scratch<AdamWParam> dps{size_t(count)};
  Scratch<Chunk> dch(chunks.size());
  Scratch<double> part(chunks.size());
  Scratch<int> bad(1);
  to_device(dps.get(), params, size_t(count), "adamw_step: tensor table");
  to_device(dch.get(), chunks.data(), chunks.size(), "adamw_step: chunk table");
  unsigned grid = unsigned(chunks.size());
  std::vector<double> hp(chunks.size());
  auto norm_from_parts = [&] {
    to_host(hp.data(), part.get(), hp.size(), "adamw_step: gradient norm");
    double sq = 0.0;
    for (double v : hp) sq += v;  // in chunk order: the same sum on every run
    return std::sqrt(sq) * (1.0 / cfg.grad_scale);
  };
  // torch's semantics without clipping or scaling need nothing before the update: one pass
  const bool one_pass = !cfg.skip_nonfinite && cfg.max_grad_norm <= 0.0 && cfg.grad_scale == 1.0;
  double unscale = 1.0 / cfg.grad_scale, clip = 1.0;
  if (!one_pass) {
    check(cudaMemsetAsync(bad.get(), 0, sizeof(int), stream()), "adamw_step");
    sumsq_k<<<grid, kT, 0, stream()>>>(dps.get(), dch.get(), part.get(), bad.get());
    check_launch("adamw_step: gradient norm");
    int hbad = 0;
    res.grad_norm = norm_from_parts();
    to_host(&hbad, bad.get(), 1, "adamw_step: gradient norm");
    if (hbad && cfg.skip_nonfinite) {
      res.skipped = true;
      return res;
    }
    if (cfg.max_grad_norm > 0.0) clip = std::min(1.0, cfg.max_grad_norm / (res.grad_norm + 1e-6));
  }
  const Coeffs k = adamw_coeffs(cfg, unscale * clip);
  adamw_k<<<grid, kT, 0, stream()>>>(dps.get(), dch.get(), k, one_pass ? part.get() : nullptr);
  check_launch("adamw_step");
  if (one_pass) res.grad_norm = norm_from_parts();
  return res;
}

}  // namespace cuda
}  // namespace plf
