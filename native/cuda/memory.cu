// CUDA device discovery and device memory. cudart is linked statically and finds the driver
// at run time, so "no driver" and "driver too old" are reported here instead of failing to load.
#include "plf/memory.h"
#include "check.cuh"
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace plf {
namespace cuda {

DeviceInfo device_info() {
  DeviceInfo d;
  d.compiled = true;
  d.runtime_version = CUDART_VERSION;
  cudaDriverGetVersion(&d.driver_version);
  if (d.driver_version == 0) {
    d.reason = "no NVIDIA driver found (libcuda.so is not loadable)";
    return d;
  }
  cudaError_t e = cudaGetDeviceCount(&d.count);
  if (e == cudaErrorInsufficientDriver) {
    d.reason = "NVIDIA driver (CUDA " + std::to_string(d.driver_version / 1000) + "." +
               std::to_string(d.driver_version % 1000 / 10) + ") is older than CUDA " +
               std::to_string(CUDART_VERSION / 1000) + " needs: update the driver to >= 580";
    cudaGetLastError();
    return d;
  }
  if (e != cudaSuccess || d.count == 0) {
    d.reason = e == cudaSuccess || e == cudaErrorNoDevice ? "no CUDA device visible" : cudaGetErrorString(e);
    cudaGetLastError();
    d.count = 0;
    return d;
  }
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
    d.reason = "cudaGetDeviceProperties failed";
    cudaGetLastError();
    return d;
  }
  d.name = p.name;
  d.major = p.major;
  d.minor = p.minor;
  d.total_mem = int64_t(p.totalGlobalMem);
  size_t fr = 0, tot = 0;
  if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) d.free_mem = int64_t(fr);
  if (p.major < 8) {
    d.reason = "compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) +
               " is below 8.0 (Ampere), the oldest this build targets";
    return d;
  }
  d.usable = true;
  return d;
}

// The stream of every plf launch and copy (check.cuh). Blocking, so work on the legacy default
// stream (cudaMemcpyToSymbol) still orders with it, and capturable, unlike the legacy stream.
namespace {
std::atomic<std::thread::id> g_capture_thread{std::thread::id()};  // the thread recording a graph
}

int sm_count() {
  static const int n = [] {
    int dev = 0, c = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&c, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
      c = 0;
    cudaGetLastError();
    return c > 0 ? c : 100;
  }();
  return n;
}

cudaStream_t stream() {
  static cudaStream_t s = [] {
    cudaStream_t x = nullptr;
    if (cudaStreamCreateWithFlags(&x, cudaStreamDefault) != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error("cudaStreamCreate failed: is a CUDA device usable? (plf-native info)");
    }
    return x;
  }();
  std::thread::id c = g_capture_thread.load(std::memory_order_relaxed);
  if (c != std::thread::id() && c != std::this_thread::get_id())
    throw std::runtime_error(
        "another thread is recording a CUDA graph on plf's stream: run CUDA work of one process from one thread "
        "while a decode step is captured");
  return s;
}

bool capturing() { return g_capture_thread.load(std::memory_order_relaxed) == std::this_thread::get_id(); }

void no_host_copy_while_capturing(const char* what) {
  if (capturing())
    throw std::runtime_error(std::string(what) +
                             ": copies between host and device memory cannot be recorded in a CUDA graph (write the "
                             "step's inputs into device tensors before the capture)");
}

// A caching allocator: freed blocks go to a per-size free list and are handed out again, so the
// training loop's steady state makes no cudaMalloc/cudaFree calls (both synchronize the device).
// Sizes are rounded (512 B below 1 MiB, 1 MiB above) so similar requests share lists; when
// cudaMalloc fails, the cache is released and the request retried once.
//
// A CUDA graph replays the addresses it was recorded with, so while one is captured its blocks come
// from (and go back to) the graph's own pool: every block allocated during the capture, and every
// older block freed during it (a recorded kernel may still read it), stays the graph's until
// graph_destroy releases the pool; one the caller still holds (the step's logits) goes back to the
// shared lists when the caller frees it after that.
namespace {
using FreeLists = std::unordered_map<size_t, std::vector<void*>>;
struct Pool {
  FreeLists free;
  std::vector<void*> blocks;
};
std::mutex g_mu;
FreeLists g_free;
std::unordered_map<void*, size_t> g_size;
std::unordered_map<void*, int64_t> g_owner;  // block → the graph pool it belongs to
std::unordered_map<int64_t, Pool> g_pools;
int64_t g_capture_pool = 0, g_next_pool = 0;
int64_t g_reserved = 0, g_reserved_peak = 0;  // bytes cudaMalloc holds for us (what nvidia-smi sees)

size_t rounded(size_t b) {
  if (b == 0) b = 1;
  return b < (size_t(1) << 20) ? (b + 511) & ~size_t(511) : (b + (size_t(1) << 20) - 1) & ~((size_t(1) << 20) - 1);
}

void release_cache_locked() {
  for (auto& kv : g_free)
    for (void* p : kv.second) {
      cudaFree(p);
      g_size.erase(p);
      g_reserved -= int64_t(kv.first);
    }
  g_free.clear();
}

void* pop(FreeLists& lists, size_t s) {
  auto it = lists.find(s);
  if (it == lists.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  return p;
}
}  // namespace

void* malloc_device(size_t bytes) {
  size_t s = rounded(bytes);
  std::lock_guard<std::mutex> lock(g_mu);
  Pool* pool = g_capture_pool && capturing() ? &g_pools[g_capture_pool] : nullptr;
  void* p = pool ? pop(pool->free, s) : nullptr;
  if (p) return p;
  p = pop(g_free, s);
  if (!p) {
    cudaError_t e = cudaMalloc(&p, s);
    if (e != cudaSuccess && !pool) {  // releasing the cache synchronizes the device: not while capturing
      cudaGetLastError();
      release_cache_locked();
      e = cudaMalloc(&p, s);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error("cudaMalloc of " + std::to_string(bytes) + " bytes failed: " + cudaGetErrorString(e));
    }
    g_size[p] = s;
    g_reserved += int64_t(s);
    if (g_reserved > g_reserved_peak) g_reserved_peak = g_reserved;
  }
  if (pool) {
    g_owner[p] = g_capture_pool;
    pool->blocks.push_back(p);
  }
  return p;
}

void free_device(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_size.find(p);
  if (it == g_size.end()) {
    cudaFree(p);
    return;
  }
  auto own = g_owner.find(p);
  if (own == g_owner.end() && g_capture_pool && capturing()) {  // an older block a recorded kernel may read
    g_owner[p] = g_capture_pool;
    g_pools[g_capture_pool].blocks.push_back(p);
    own = g_owner.find(p);
  }
  if (own != g_owner.end())
    g_pools[own->second].free[it->second].push_back(p);
  else
    g_free[it->second].push_back(p);
}

int64_t pool_begin() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_capture_thread.load() != std::thread::id()) throw std::runtime_error("a CUDA graph is being recorded already");
  g_capture_pool = ++g_next_pool;
  g_pools[g_capture_pool];
  g_capture_thread.store(std::this_thread::get_id());
  return g_capture_pool;
}

void pool_end() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_capture_pool = 0;
  g_capture_thread.store(std::thread::id());
}

void pool_release(int64_t id) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_pools.find(id);
  if (it == g_pools.end()) return;
  for (auto& kv : it->second.free)
    for (void* p : kv.second) g_free[kv.first].push_back(p);
  for (void* p : it->second.blocks) g_owner.erase(p);
  g_pools.erase(it);
}

void empty_cache() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_capture_pool) return;  // synchronizing the device would end a capture in progress
  cudaDeviceSynchronize();
  release_cache_locked();
}

void reset_reserved_peak() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_reserved_peak = g_reserved;
}

void reserved_stats(int64_t* now, int64_t* peak) {
  std::lock_guard<std::mutex> lock(g_mu);
  *now = g_reserved;
  *peak = g_reserved_peak;
}

// Uploads and device copies are queued on the stream the kernels use: a pageable upload is staged
// at once and the host goes on without waiting for the queued kernels (cudaMemcpy would wait).
// Downloads wait, as the host reads the bytes next.
void memcpy_any(void* dst, const void* src, size_t bytes, int kind) {
  if (kind != 3) no_host_copy_while_capturing(kind == 1 ? "upload" : "download");
  if (kind == 2) {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()), "cudaMemcpyAsync");
    check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize");
    return;
  }
  check(cudaMemcpyAsync(dst, src, bytes, kind == 1 ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice, stream()),
        "cudaMemcpyAsync");
}

void memset_device(void* p, size_t bytes) { check(cudaMemsetAsync(p, 0, bytes, stream()), "cudaMemsetAsync"); }

void synchronize() {
  if (capturing()) throw std::runtime_error("cudaDeviceSynchronize cannot be recorded in a CUDA graph");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

}  // namespace cuda
}  // namespace plf
