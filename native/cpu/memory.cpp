// Memory: aligned host allocations and dispatch of device allocations to the CUDA backend.
#include "plf/memory.h"
#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace plf {

static std::atomic<int64_t> g_live[2], g_peak[2], g_allocs[2];

static void count(Device dev, int64_t delta) {
  int d = int(dev);
  int64_t now = g_live[d].fetch_add(delta) + delta;
  if (delta > 0) {
    g_allocs[d]++;
    int64_t p = g_peak[d].load();
    while (now > p && !g_peak[d].compare_exchange_weak(p, now)) {}
  }
}

void* mem_alloc(Device dev, size_t bytes) {
  size_t n = bytes ? bytes : 1;
  void* p = nullptr;
  if (dev == Device::CPU) {
    p = std::aligned_alloc(64, (n + 63) / 64 * 64);  // 64-byte alignment for SIMD loads
    if (!p) throw std::runtime_error("out of host memory allocating " + std::to_string(bytes) + " bytes");
  } else {
    p = cuda::malloc_device(n);
  }
  count(dev, int64_t(bytes));
  return p;
}

void mem_free(Device dev, void* p, size_t bytes) {
  if (!p) return;
  if (dev == Device::CPU)
    std::free(p);
  else
    cuda::free_device(p);
  count(dev, -int64_t(bytes));
}

void mem_copy(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes) {
  if (!bytes) return;
  if (dst_dev == Device::CPU && src_dev == Device::CPU) {
    std::memcpy(dst, src, bytes);
    return;
  }
  int kind = src_dev == Device::CPU ? 1 : (dst_dev == Device::CPU ? 2 : 3);
  cuda::memcpy_any(dst, src, bytes, kind);
}

void mem_zero(Device dev, void* p, size_t bytes) {
  if (dev == Device::CPU)
    std::memset(p, 0, bytes);
  else
    cuda::memset_device(p, bytes);
}

void mem_reset_peak() {
  for (int d = 0; d < 2; d++) g_peak[d].store(g_live[d].load());
  cuda::reset_reserved_peak();
}

MemStats mem_stats(Device dev) {
  int d = int(dev);
  return MemStats{g_live[d].load(), g_peak[d].load(), g_allocs[d].load()};
}

}  // namespace plf
