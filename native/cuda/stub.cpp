// Built instead of the .cu files when nvcc is absent or PLF_CUDA=OFF: every CUDA entry point
// reports that this build has no CUDA.
#include "plf/memory.h"
#include "plf_build_config.h"
#include "plf/nf4.h"
#include "plf/ops.h"
#include <stdexcept>

namespace plf {
namespace cuda {

static void fail() {
  throw std::runtime_error("this build of plf-native has no CUDA (" PLF_CUDA_REASON "); rebuild with nvcc on PATH");
}

DeviceInfo device_info() {
  DeviceInfo d;
  d.compiled = false;
  d.reason = "not compiled with CUDA (" PLF_CUDA_REASON ")";
  return d;
}
void* malloc_device(size_t) { fail(); return nullptr; }
void free_device(void*) {}
void memcpy_any(void*, const void*, size_t, int) { fail(); }
void memset_device(void*, size_t) { fail(); }
void synchronize() {}
void nf4_dequantize(const NF4View&, DType, void*) { fail(); }
void convert(DType, const void*, DType, void*, int64_t) { fail(); }

}  // namespace cuda
}  // namespace plf
