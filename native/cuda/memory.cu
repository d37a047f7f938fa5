// CUDA device discovery and device memory. cudart is linked statically and finds the driver
// at run time, so "no driver" and "driver too old" are reported here instead of failing to load.
#include "plf/memory.h"
#include "check.cuh"

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

void* malloc_device(size_t bytes) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error("cudaMalloc of " + std::to_string(bytes) + " bytes failed: " + cudaGetErrorString(e));
  }
  return p;
}

void free_device(void* p) { cudaFree(p); }

void memcpy_any(void* dst, const void* src, size_t bytes, int kind) {
  cudaMemcpyKind k = kind == 1 ? cudaMemcpyHostToDevice : kind == 2 ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
  check(cudaMemcpy(dst, src, bytes, k), "cudaMemcpy");
}

void memset_device(void* p, size_t bytes) { check(cudaMemset(p, 0, bytes), "cudaMemset"); }

void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

}  // namespace cuda
}  // namespace plf
