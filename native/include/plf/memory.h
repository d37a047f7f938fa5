// Host and device memory owned by the addon, with per-device live/peak byte counters.
#pragma once
#include "common.h"
#include <string>

namespace plf {

struct MemStats {
  int64_t live = 0, peak = 0, allocs = 0;
};

void* mem_alloc(Device dev, size_t bytes);  // throws std::runtime_error with a readable reason
void mem_free(Device dev, void* p, size_t bytes);
void mem_copy(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes);
void mem_zero(Device dev, void* p, size_t bytes);
MemStats mem_stats(Device dev);
// peak := live, on both devices (and the CUDA allocator's reserved peak := reserved)
void mem_reset_peak();
// returns the host heaps' free pages to the system (malloc_trim)
void host_empty_cache();

namespace cuda {
struct DeviceInfo {
  bool compiled = false;  // the addon was built with nvcc
  bool usable = false;    // a device can run our kernels
  std::string reason;     // why not, in plain words
  std::string name;
  int major = 0, minor = 0, count = 0;
  int64_t total_mem = 0, free_mem = 0;
  int driver_version = 0, runtime_version = 0;
};
DeviceInfo device_info();
void* malloc_device(size_t bytes);
void free_device(void* p);
void memcpy_any(void* dst, const void* src, size_t bytes, int kind);  // kind: 1 H2D, 2 D2H, 3 D2D
void memset_device(void* p, size_t bytes);
void synchronize();
// bytes the caching allocator holds from cudaMalloc (in use or cached), now and at most
void reserved_stats(int64_t* now, int64_t* peak);
void reset_reserved_peak();
// frees the caching allocator's unused blocks (cudaFree)
void empty_cache();
}  // namespace cuda
}  // namespace plf
