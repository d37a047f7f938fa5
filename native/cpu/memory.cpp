// Memory: aligned host allocations and dispatch of device allocations to the CUDA backend.
#include "plf/memory.h"
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
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

// Host blocks of 1 MiB and more are kept for reuse after they are freed (exact size: a training
// loop asks for the same shapes every step), up to kHostCacheMax bytes; the rest goes back to
// malloc. Why: glibc raises its mmap threshold each time a large mapped block is freed,
// after which tensor-sized blocks come from the heap, where small long-lived allocations between
// them keep freed memory from being returned — a training loop's RSS grew ~10 MiB per step with
// every tensor freed. A fixed mmap threshold returned the memory but page-faulted every new block
// (the kernels' own scratch too: pretraining 24% slower); reusing the blocks keeps the pages warm.
constexpr size_t kHostCacheMin = size_t(1) << 20;
constexpr size_t kHostCacheMax = size_t(1) << 30;
static std::mutex g_host_mu;
static std::multimap<size_t, void*> g_host_cache;
static size_t g_host_cached = 0;

static size_t host_size(size_t bytes) { return ((bytes ? bytes : 1) + 63) / 64 * 64; }

static void* host_alloc(size_t bytes) {
  size_t n = host_size(bytes);
  if (n >= kHostCacheMin) {
    std::lock_guard<std::mutex> lock(g_host_mu);
    auto it = g_host_cache.find(n);
    if (it != g_host_cache.end()) {
      void* p = it->second;
      g_host_cache.erase(it);
      g_host_cached -= n;
      return p;
    }
  }
  void* p = std::aligned_alloc(64, n);  // 64-byte alignment for SIMD loads
  if (!p) {
    host_empty_cache();  // what the cache holds may be what is missing
    p = std::aligned_alloc(64, n);
  }
  if (!p) throw std::runtime_error("out of host memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}

static void host_free(void* p, size_t bytes) {
  size_t n = host_size(bytes);
  if (n >= kHostCacheMin) {
    std::lock_guard<std::mutex> lock(g_host_mu);
    if (g_host_cached + n <= kHostCacheMax) {
      g_host_cache.emplace(n, p);
      g_host_cached += n;
      return;
    }
  }
  std::free(p);
}

void host_empty_cache() {
  std::lock_guard<std::mutex> lock(g_host_mu);
  for (auto& [n, p] : g_host_cache) std::free(p);
  g_host_cache.clear();
  g_host_cached = 0;
}

void* mem_alloc(Device dev, size_t bytes) {
  void* p = dev == Device::CPU ? host_alloc(bytes) : cuda::malloc_device(bytes ? bytes : 1);
  count(dev, int64_t(bytes));
  return p;
}

void mem_free(Device dev, void* p, size_t bytes) {
  if (!p) return;
  if (dev == Device::CPU)
    host_free(p, bytes);
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
