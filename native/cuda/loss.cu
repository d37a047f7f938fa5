// Losses on CUDA: one block per row for cross-entropy (log-sum-exp in double as on the CPU);
// per-row terms are summed on the host in row order, so the loss is deterministic.
#include "plf/ops.h"
#include "check.cuh"
#include <limits>
#include <vector>

namespace plf {
namespace cuda {

constexpr int kT = 256;

__device__ inline double block_sum_d(double v) {
  __shared__ double part[kT / 32];
  v = warp_sum(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  double s = 0.0;
  for (int i = 0; i < kT / 32; i++) s += part[i];
  return s;
}
__device__ inline float block_max(float v) {
  __shared__ float part[kT / 32];
  v = warp_max(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  float m = part[0];
  for (int i = 1; i < kT / 32; i++) m = fmaxf(m, part[i]);
  return m;
}
__device__ inline double row_lse(const float* x, long long n) {
  float mx = -INFINITY;
  for (long long i = threadIdx.x; i < n; i += kT) mx = fmaxf(mx, x[i]);
  mx = block_max(mx);
  double s = 0.0;
  for (long long i = threadIdx.x; i < n; i += kT) s += exp(double(x[i]) - mx);
  return double(mx) + log(block_sum_d(s));
}

__global__ void ce_fwd_k(const float* logits, const int64_t* targets, long long vocab, long long ignore, double* term) {
  long long r = blockIdx.x;
  if (targets[r] == ignore) {
    if (threadIdx.x == 0) term[r] = 0.0;
    return;
  }
  double lse = row_lse(logits + r * vocab, vocab);
  if (threadIdx.x == 0) term[r] = lse - logits[r * vocab + targets[r]];
}

__global__ void ce_bwd_k(const float* logits, const int64_t* targets, long long vocab, long long ignore, double k,
                         float* d) {
  long long r = blockIdx.x;
  float* dr = d + r * vocab;
  if (targets[r] == ignore) {
    for (long long i = threadIdx.x; i < vocab; i += kT) dr[i] = 0.0f;
    return;
  }
  const float* x = logits + r * vocab;
  double lse = row_lse(x, vocab);
  for (long long i = threadIdx.x; i < vocab; i += kT) {
    float v = float(exp(double(x[i]) - lse) * k);
    dr[i] = i == targets[r] ? v - float(k) : v;
  }
}

__global__ void bce_fwd_k(const float* x, const float* y, long long n, double* term) {
  PLF_GRID_STRIDE(i, n) {
    double v = x[i];
    term[i] = fmax(v, 0.0) - v * y[i] + log1p(exp(-fabs(v)));
  }
}
__global__ void bce_bwd_k(const float* x, const float* y, long long n, double k, float* dx) {
  PLF_GRID_STRIDE(i, n) dx[i] = float((1.0 / (1.0 + exp(-double(x[i]))) - y[i]) * k);
}

static int64_t count_targets(const int64_t* targets, int64_t rows, int64_t ignore) {
  std::vector<int64_t> t(static_cast<size_t>(rows));
  to_host(t.data(), targets, t.size(), "cross_entropy: targets");
  int64_t c = 0;
  for (int64_t v : t) c += v != ignore;
  return c;
}

double cross_entropy_forward(const float* logits, const int64_t* targets, int64_t rows, int64_t vocab,
                             int64_t ignore_index, int64_t* count) {
  Scratch<double> term{size_t(rows)};
  if (rows) ce_fwd_k<<<unsigned(rows), kT>>>(logits, targets, vocab, ignore_index, term.get());
  check_launch("cross_entropy_forward");
  std::vector<double> t(static_cast<size_t>(rows));
  to_host(t.data(), term.get(), t.size(), "cross_entropy_forward");
  double total = 0.0;
  for (double v : t) total += v;
  int64_t c = count_targets(targets, rows, ignore_index);
  if (count) *count = c;
  return c ? total / double(c) : std::numeric_limits<double>::quiet_NaN();
}

void cross_entropy_backward(const float* logits, const int64_t* targets, int64_t rows, int64_t vocab,
                            int64_t ignore_index, float dloss, float* dlogits) {
  int64_t c = count_targets(targets, rows, ignore_index);
  double k = c ? double(dloss) / double(c) : 0.0;
  if (rows) ce_bwd_k<<<unsigned(rows), kT>>>(logits, targets, vocab, ignore_index, k, dlogits);
  check_launch("cross_entropy_backward");
}

double bce_logits_forward(const float* x, const float* y, int64_t n) {
  Scratch<double> term{size_t(n)};
  if (n) bce_fwd_k<<<blocks_for(n, 256), 256>>>(x, y, n, term.get());
  check_launch("bce_logits_forward");
  std::vector<double> t(static_cast<size_t>(n));
  to_host(t.data(), term.get(), t.size(), "bce_logits_forward");
  double s = 0.0;
  for (double v : t) s += v;
  return s / double(n);
}

void bce_logits_backward(const float* x, const float* y, int64_t n, float dloss, float* dx) {
  if (n) bce_bwd_k<<<blocks_for(n, 256), 256>>>(x, y, n, double(dloss) / double(n), dx);
  check_launch("bce_logits_backward");
}

}  // namespace cuda
}  // namespace plf
