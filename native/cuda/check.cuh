// Error checking for CUDA calls: failures become C++ exceptions (then JS errors), never aborts.
#pragma once
#include <cuda_runtime.h>
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
inline unsigned blocks_for(long long n, int threads) { return unsigned((n + threads - 1) / threads); }
}  // namespace cuda
}  // namespace plf
