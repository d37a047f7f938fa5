// Losses on CUDA: one block per row for cross-entropy (log-sum-exp in double as on the CPU);
// per-row terms are summed on the host in row order, so the loss is deterministic.
#include "plf/ops.h"
#include "check.cuh"
#include "act.cuh"
#include "loss.cuh"
#include <limits>
#include <vector>

namespace plf {
namespace cuda {

static int64_t count_targets(const int64_t* targets, int64_t rows, int64_t ignore) {
  std::vector<int64_t> t(static_cast<size_t>(rows));
  to_host(t.data(), targets, t.size(), "cross_entropy: targets");
  int64_t c = 0;
  for (int64_t v : t) c += v != ignore;
  return c;
}

double cross_entropy_forward(CAct logits, const int64_t* targets, int64_t rows, int64_t vocab, int64_t ignore_index,
                             int64_t* count) {
  Scratch<double> term{size_t(rows)};
  if (rows)
    by_dtype(logits.t, [&](auto t) {
      ce_fwd_k<PLF_DT(t)><<<unsigned(rows), kLossT, 0, stream()>>>(logits.p, targets, vocab, ignore_index, term.get());
    });
  check_launch("cross_entropy_forward");
  std::vector<double> t(static_cast<size_t>(rows));
  to_host(t.data(), term.get(), t.size(), "cross_entropy_forward");
  double total = 0.0;
  for (double v : t) total += v;
  int64_t c = count_targets(targets, rows, ignore_index);
  if (count) *count = c;
  return c ? total / double(c) : std::numeric_limits<double>::quiet_NaN();
}

void cross_entropy_backward(CAct logits, const int64_t* targets, int64_t rows, int64_t vocab, int64_t ignore_index,
                            float dloss, Act dlogits) {
  int64_t c = count_targets(targets, rows, ignore_index);
  double k = c ? double(dloss) / double(c) : 0.0;
  if (rows)
    by_dtype(logits.t, [&](auto t) {
      ce_bwd_k<PLF_DT(t)>
          <<<unsigned(rows), kLossT, 0, stream()>>>(logits.p, targets, vocab, ignore_index, k, dlogits.p);
    });
  check_launch("cross_entropy_backward");
}

double bce_logits_forward(const float* x, const float* y, int64_t n) {
  Scratch<double> term{size_t(n)};
  if (n) bce_fwd_k<<<blocks_for(n, 256), 256, 0, stream()>>>(x, y, n, term.get());
  check_launch("bce_logits_forward");
  std::vector<double> t(static_cast<size_t>(n));
  to_host(t.data(), term.get(), t.size(), "bce_logits_forward");
  double s = 0.0;
  for (double v : t) s += v;
  return s / double(n);
}

void bce_logits_backward(const float* x, const float* y, int64_t n, float dloss, float* dx) {
  if (n) bce_bwd_k<<<blocks_for(n, 256), 256, 0, stream()>>>(x, y, n, double(dloss) / double(n), dx);
  check_launch("bce_logits_backward");
}

void argmax_rows(CAct x, int64_t rows, int64_t vocab, int64_t* out) {
  if (rows && vocab)
    by_dtype(x.t, [&](auto t) { argmax_k<PLF_DT(t)><<<unsigned(rows), kLossT, 0, stream()>>>(x.p, vocab, out); });
  check_launch("argmax_rows");
}

}  // namespace cuda
}  // namespace plf
