// A small CUDA emulator for checking kernels on a machine without a GPU: every CUDA thread of a
// block is a std::thread, __syncthreads/__syncwarp are barriers, shuffles exchange through a
// per-warp buffer, and shared memory starts as NaN so reading what no thread wrote shows up in the
// results. Blocks run one after another. Slow (fine for test sizes) and blind to timing; it checks
// index math, tiling and synchronisation, not speed.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <math.h>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __launch_bounds__(...)
#define __restrict__
// static __shared__ arrays: one per kernel instantiation, shared by the block's threads (blocks run
// one at a time); unlike dynamic shared memory they are not refilled with NaN between blocks
#define __shared__ static
#define PLF_SHARED_FLOATS(name) float* name = emu::shared()
#define PLF_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct emu_index {
  unsigned x = 0, y = 0, z = 0;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline thread_local emu_index threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

namespace emu {
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
inline std::vector<float> exchange, shared_mem;
inline std::vector<double> exchange_d;
inline float* shared() { return shared_mem.data(); }
inline unsigned linear_tid() { return threadIdx.x + blockDim.x * threadIdx.y; }
inline std::barrier<>& warp() { return *warp_barriers[linear_tid() / 32]; }

// kernel() as if launched <<<grid, block, smem>>> (blocks of one or two dimensions)
template <typename F>
void launch(dim3 grid, dim3 block, size_t smem, F kernel) {
  const unsigned threads = block.x * block.y;
  gridDim = grid;
  blockDim = block;
  for (unsigned z = 0; z < grid.z; z++)
    for (unsigned y = 0; y < grid.y; y++)
      for (unsigned x = 0; x < grid.x; x++) {
        std::barrier<> bar(threads);
        block_barrier = &bar;
        warp_barriers.clear();
        for (unsigned w = 0; w < (threads + 31) / 32; w++)
          warp_barriers.push_back(std::make_unique<std::barrier<>>(32));
        exchange.assign(threads, 0.0f);
        exchange_d.assign(threads, 0.0);
        shared_mem.assign(smem / sizeof(float) + 1, NAN);
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < threads; t++)
          ts.emplace_back([&, t] {
            threadIdx = {t % block.x, t / block.x, 0};
            blockIdx = {x, y, z};
            kernel();
          });
        for (auto& th : ts) th.join();
      }
}
// what the checks share: random inputs, the worst error relative to the largest reference value
// (a NaN — e.g. unwritten shared memory — counts as off), and a count of failed cases
inline std::mt19937 rng(7);
inline std::vector<float> randn(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng) * scale;
  return v;
}
template <typename W>
double max_rel(const std::vector<float>& got, const std::vector<W>& want) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < got.size(); i++) {
    md = std::max(md, std::isnan(got[i]) ? 1e30 : std::fabs(double(got[i]) - double(want[i])));
    mr = std::max(mr, std::fabs(double(want[i])));
  }
  return md / (mr > 0 ? mr : 1);
}
inline int failures = 0;
inline void expect(bool ok) {
  if (!ok) failures++;
}
}  // namespace emu

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::warp().arrive_and_wait(); }
inline float __shfl_xor_sync(unsigned, float v, int lane_mask) {
  unsigned w = emu::linear_tid() / 32, lane = emu::linear_tid() % 32;
  emu::exchange[emu::linear_tid()] = v;
  emu::warp().arrive_and_wait();
  float r = emu::exchange[w * 32 + (lane ^ unsigned(lane_mask))];
  emu::warp().arrive_and_wait();
  return r;
}
inline double __shfl_xor_sync(unsigned, double v, int lane_mask) {
  unsigned w = emu::linear_tid() / 32, lane = emu::linear_tid() % 32;
  emu::exchange_d[emu::linear_tid()] = v;
  emu::warp().arrive_and_wait();
  double r = emu::exchange_d[w * 32 + (lane ^ unsigned(lane_mask))];
  emu::warp().arrive_and_wait();
  return r;
}
// correctly rounded float arithmetic (the harnesses compile with -ffp-contract=off)
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }

namespace plf {
namespace cuda {
inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = std::fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
}  // namespace cuda
}  // namespace plf
