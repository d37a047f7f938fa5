// Built instead of the .cu files when nvcc is absent or PLF_CUDA=OFF: every CUDA entry point
// reports that this build has no CUDA.
#include "plf/memory.h"
#include "plf_build_config.h"
#include "plf/nf4.h"
#include "plf/linear.h"
#include "plf/optim.h"
#include "plf/cublaslt.h"
#include "plf/ops.h"
#include <stdexcept>

namespace plf {
namespace cuda {

[[noreturn]] static void fail() {
  throw std::runtime_error("this build of plf-native has no CUDA (" PLF_CUDA_REASON "); rebuild with nvcc on PATH");
}

DeviceInfo device_info() {
  DeviceInfo d;
  d.compiled = false;
  d.reason = "not compiled with CUDA (" PLF_CUDA_REASON ")";
  return d;
}
void* malloc_device(size_t) { fail(); }
void free_device(void*) {}
void memcpy_any(void*, const void*, size_t, int) { fail(); }
void memset_device(void*, size_t) { fail(); }
void synchronize() {}
void empty_cache() {}
void reserved_stats(int64_t* now, int64_t* peak) { *now = *peak = 0; }
void reset_reserved_peak() {}
namespace lt {
Info info() {
  Info i;
  i.reason = "not compiled with CUDA";
  return i;
}
bool set_enabled(bool) { return false; }
bool can_run(long long, long long, long long, bool, long long, float, DType) { return false; }
bool gemm_16(long long, long long, long long, float, const void*, const void*, bool, float, float*, long long, DType) { return false; }
}  // namespace lt
void nf4_dequantize(const NF4View&, DType, void*) { fail(); }
void nf4_quantize(const float*, int64_t, int64_t, uint8_t*, float*) { fail(); }
void convert(DType, const void*, DType, void*, int64_t) { fail(); }

void embedding_forward(const int64_t*, int64_t, const float*, int64_t, float*) { fail(); }
void embedding_backward(const int64_t*, int64_t, const float*, int64_t, float*) { fail(); }
void rmsnorm_forward(const float*, const float*, int64_t, int64_t, float, float*, float*) { fail(); }
void rmsnorm_backward(const float*, const float*, const float*, const float*, int64_t, int64_t, float*, float*, bool) { fail(); }
void layernorm_forward(const float*, const float*, const float*, int64_t, int64_t, float, float*, float*, float*) { fail(); }
void layernorm_backward(const float*, const float*, const float*, const float*, const float*, int64_t, int64_t, float*, float*,
                        float*, bool) { fail(); }
void rope_forward(const float*, const int64_t*, int64_t, int64_t, int64_t, int64_t, int64_t, double, bool, float*) { fail(); }
void attention_forward(const float*, const float*, const float*, const int64_t*, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, float, int64_t, bool, const float*, float*, float*) { fail(); }
void attention_backward(const float*, const float*, const float*, const float*, const float*, const float*, const int64_t*,
                        int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float, int64_t, bool, const float*, float*,
                        float*, float*) { fail(); }
void swiglu_forward(const float*, const float*, int64_t, float*) { fail(); }
void swiglu_backward(const float*, const float*, const float*, int64_t, float*, float*) { fail(); }
void gelu_forward(const float*, int64_t, bool, float*) { fail(); }
void gelu_backward(const float*, const float*, int64_t, bool, float*) { fail(); }
void geglu_forward(const float*, const float*, int64_t, bool, float*) { fail(); }
void geglu_backward(const float*, const float*, const float*, int64_t, bool, float*, float*) { fail(); }
void relu_forward(const float*, int64_t, float*) { fail(); }
void relu_backward(const float*, const float*, int64_t, float*) { fail(); }
void tanh_forward(const float*, int64_t, float*) { fail(); }
void tanh_backward(const float*, const float*, int64_t, float*) { fail(); }
void scale_forward(const float*, int64_t, float, float*) { fail(); }
void add_forward(const float*, const float*, int64_t, float*) { fail(); }
double cross_entropy_forward(const float*, const int64_t*, int64_t, int64_t, int64_t, int64_t*) { fail(); }
void cross_entropy_backward(const float*, const int64_t*, int64_t, int64_t, int64_t, float, float*) { fail(); }
double bce_logits_forward(const float*, const float*, int64_t) { fail(); }
void bce_logits_backward(const float*, const float*, int64_t, float, float*) { fail(); }
void gather_rows_forward(const float*, const int64_t*, int64_t, int64_t, int64_t, float*) { fail(); }
void gather_rows_backward(const float*, const int64_t*, int64_t, int64_t, int64_t, float*) { fail(); }
void slice_cols_forward(const float*, int64_t, int64_t, int64_t, int64_t, float*) { fail(); }
void slice_cols_backward(const float*, int64_t, int64_t, int64_t, int64_t, float*) { fail(); }

void linear_forward(const float*, int64_t, int64_t, const WeightView&, const float*, float*) { fail(); }
void linear_backward(const float*, const float*, int64_t, int64_t, const WeightView&, float*, float*, float*, bool) { fail(); }
void lora_linear_forward(const float*, int64_t, int64_t, const WeightView&, const float*, const float*, const float*, int64_t,
                         float, float, uint64_t, float*, float*) { fail(); }
void lora_linear_backward(const float*, const float*, int64_t, int64_t, const WeightView&, const float*, const float*, int64_t,
                          float, float, uint64_t, const float*, float*, float*, float*, bool) { fail(); }
void set_matmul_precision(MatmulPrecision) {}
MatmulPrecision matmul_precision() { return MatmulPrecision::Highest; }
void nf4_gemv(const float*, const NF4View&, int64_t, int64_t, const float*, float*) { fail(); }
AdamWResult adamw_step(AdamWParam*, int64_t, const AdamWConfig&) { fail(); }

}  // namespace cuda
}  // namespace plf
