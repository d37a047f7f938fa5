// Losses on the CPU: softmax cross-entropy (ignore index) and BCE-with-logits, both means.
#include "plf/ops.h"
#include <cmath>
#include <limits>
#include <vector>

namespace plf {
namespace cpu {

static double row_lse(const float* x, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; i++) mx = std::max(mx, x[i]);
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += std::exp(double(x[i]) - mx);
  return double(mx) + std::log(s);
}

static int64_t count_targets(const int64_t* t, int64_t rows, int64_t ignore) {
  int64_t c = 0;
  for (int64_t r = 0; r < rows; r++) c += t[r] != ignore;
  return c;
}

double cross_entropy_forward(const float* logits, const int64_t* targets, int64_t rows, int64_t vocab,
                             int64_t ignore_index, int64_t* count) {
  // per-row terms summed in row order: the loss does not depend on the thread count
  std::vector<double> term(size_t(rows), 0.0);
#pragma omp parallel for schedule(static) if (rows * vocab > 65536)
  for (int64_t r = 0; r < rows; r++) {
    if (targets[r] == ignore_index) continue;
    const float* x = logits + r * vocab;
    term[size_t(r)] = row_lse(x, vocab) - x[targets[r]];
  }
  double total = 0.0;
  for (double t : term) total += t;
  int64_t c = count_targets(targets, rows, ignore_index);
  if (count) *count = c;
  return c ? total / double(c) : std::numeric_limits<double>::quiet_NaN();  // torch: 0/0 = nan
}

void cross_entropy_backward(const float* logits, const int64_t* targets, int64_t rows, int64_t vocab,
                            int64_t ignore_index, float dloss, float* dlogits) {
  int64_t c = count_targets(targets, rows, ignore_index);
  double k = c ? double(dloss) / double(c) : 0.0;
#pragma omp parallel for schedule(static) if (rows * vocab > 65536)
  for (int64_t r = 0; r < rows; r++) {
    float* d = dlogits + r * vocab;
    if (targets[r] == ignore_index) {
      for (int64_t i = 0; i < vocab; i++) d[i] = 0.0f;
      continue;
    }
    const float* x = logits + r * vocab;
    double lse = row_lse(x, vocab);
    for (int64_t i = 0; i < vocab; i++) d[i] = float(std::exp(double(x[i]) - lse) * k);
    d[targets[r]] -= float(k);
  }
}

double bce_logits_forward(const float* x, const float* y, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double v = x[i];
    s += std::max(v, 0.0) - v * y[i] + std::log1p(std::exp(-std::fabs(v)));
  }
  return s / double(n);
}

void bce_logits_backward(const float* x, const float* y, int64_t n, float dloss, float* dx) {
  double k = double(dloss) / double(n);
  for (int64_t i = 0; i < n; i++) dx[i] = float((1.0 / (1.0 + std::exp(-double(x[i]))) - y[i]) * k);
}

void argmax_rows(const float* x, int64_t rows, int64_t vocab, int64_t* out) {
  for (int64_t r = 0; r < rows; r++) {
    const float* row = x + r * vocab;
    int64_t best = 0;
    for (int64_t v = 1; v < vocab; v++)
      if (row[v] > row[best]) best = v;
    out[r] = best;
  }
}

}  // namespace cpu
}  // namespace plf
