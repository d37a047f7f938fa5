// Error checking for CUDA calls (failures become C++ exceptions, then JS errors, never aborts),
// launch helpers, and device scratch buffers from the caching allocator.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace plf {
namespace cuda {
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so later calls can proceed
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
  }
}
inline void check_launch(const char* what) { check(cudaGetLastError(), what); }
// one thread per item (grid.x allows 2^31 - 1 blocks); kernels with grid-stride loops also accept fewer
inline unsigned blocks_for(long long n, int threads) {
  long long b = (n + threads - 1) / threads;
  if (b > 0x7fffffffLL) throw std::runtime_error("CUDA launch: more than 2^31 blocks of work in one call");
  return unsigned(b < 1 ? 1 : b);
}

void* malloc_device(size_t bytes);
void free_device(void* p);
// The one stream every plf launch, copy and cuBLASLt call is queued on: an ordinary (blocking)
// stream, so a decode step can be captured into a CUDA graph (the legacy default stream cannot be).
cudaStream_t stream();
// true while graph_begin() records plf's stream (see graph.cu): nothing may touch host memory
bool capturing();
// the device's SM count (100 if it cannot be read), for launch shapes that fill the GPU; asked once
int sm_count();

// A device buffer for the length of one call (recycled by the caching allocator).
template <typename T>
struct Scratch {
  T* p = nullptr;
  size_t n = 0;
  explicit Scratch(size_t count) : n(count) {
    if (count) p = static_cast<T*>(malloc_device(count * sizeof(T)));
  }
  ~Scratch() {
    if (p) free_device(p);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return p; }
};

// Host ↔ device copies of small arrays (indices, per-row results).
void no_host_copy_while_capturing(const char* what);
template <typename T>
inline void to_host(T* dst, const T* src, size_t n, const char* what) {
  no_host_copy_while_capturing(what);
  check(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, stream()), what);
  check(cudaStreamSynchronize(stream()), what);
}
// queued behind the kernels: a pageable source is staged before this returns, so the caller may
// free it; the device is not synchronized (cudaMemcpy would be)
template <typename T>
inline void to_device(T* dst, const T* src, size_t n, const char* what) {
  no_host_copy_while_capturing(what);
  check(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, stream()), what);
}

// dynamic shared memory as a float array (test/cuda-emu defines it for the CPU)
#define PLF_SHARED_FLOATS(name) extern __shared__ float name[]

#define PLF_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
}  // namespace cuda
}  // namespace plf
