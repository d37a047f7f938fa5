// CUDA device discovery and device memory. cudart is linked statically and finds the driver
// at run time, so "no driver" and "driver too old" are reported here instead of failing to load.
#include "plf/memory.h"
#include "check.cuh"
#include <mutex>
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

// A caching allocator: freed blocks go to a per-size free list and are handed out again, so the
// training loop's steady state makes no cudaMalloc/cudaFree calls (both synchronize the device).
// Sizes are rounded (512 B below 1 MiB, 1 MiB above) so similar requests share lists; when
// cudaMalloc fails, the cache is released and the request retried once.
namespace {
std::mutex g_mu;
std::unordered_map<size_t, std::vector<void*>> g_free;
std::unordered_map<void*, size_t> g_size;
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
}  // namespace

void* malloc_device(size_t bytes) {
  size_t s = rounded(bytes);
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_free.find(s);
  if (it != g_free.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, s);
  if (e != cudaSuccess) {
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
  g_free[it->second].push_back(p);
}

void empty_cache() {
  std::lock_guard<std::mutex> lock(g_mu);
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
  if (kind == 2) {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
    return;
  }
  check(cudaMemcpyAsync(dst, src, bytes, kind == 1 ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice, 0),
        "cudaMemcpyAsync");
}

void memset_device(void* p, size_t bytes) { check(cudaMemsetAsync(p, 0, bytes, 0), "cudaMemsetAsync"); }

void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

}  // namespace cuda
}  // namespace plf
