// Built instead of the .cu files when nvcc is absent or PLF_CUDA=OFF: every CUDA entry point
// reports that this build has no CUDA. The ops come from their families' X-macro lists.
#include "plf/memory.h"
#include "plf_build_config.h"
#include "plf/nf4.h"
#include "plf/linear.h"
#include "plf/optim.h"
#include "plf/cublaslt.h"
#include "plf/graph.h"
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
void graph_begin() { fail(); }
Graph* graph_end() { fail(); }
void graph_abort() {}
void graph_replay(Graph*) { fail(); }
void graph_destroy(Graph*) {}
int64_t graph_nodes(const Graph*) { return 0; }
bool capturing() { return false; }
int64_t pool_begin() { fail(); }
void pool_end() {}
void pool_release(int64_t) {}
namespace lt {
Info info() {
  Info i;
  i.reason = "not compiled with CUDA";
  return i;
}
bool set_enabled(bool) { return false; }
bool can_run(long long, long long, long long, bool, long long, float, DType, DType) { return false; }
bool gemm_16(long long, long long, long long, float, const void*, const void*, bool, float, void*, long long, DType,
             DType) {
  return false;
}
}  // namespace lt
// every op of every family, generated from the op lists (op_decl.h): adding an op adds its stub
#define PLF_STUB_ONE(ret, name, params) \
  ret name params { fail(); }
PLF_NF4_OPS(PLF_STUB_ONE)
PLF_CONVERT_OPS(PLF_STUB_ONE)
PLF_EMBEDDING_OPS(PLF_STUB_ONE)
PLF_NORM_OPS(PLF_STUB_ONE)
PLF_ROPE_OPS(PLF_STUB_ONE)
PLF_ATTENTION_OPS(PLF_STUB_ONE)
PLF_ACTIVATION_OPS(PLF_STUB_ONE)
PLF_LOSS_OPS(PLF_STUB_ONE)
PLF_COPY_OPS(PLF_STUB_ONE)
PLF_LINEAR_OPS(PLF_STUB_ONE)
PLF_OPTIM_OPS(PLF_STUB_ONE)

bool attention_in_place(int64_t, DType) { return false; }
bool attention_decode(int64_t, int64_t, int64_t, int64_t, bool) { return false; }
void set_matmul_precision(MatmulPrecision) {}
MatmulPrecision matmul_precision() { return MatmulPrecision::Highest; }
void nf4_gemv(CAct, const NF4View&, int64_t, int64_t, const float*, Act, bool, const GemvLora&, int64_t) { fail(); }
bool nf4_gemv_ok(const NF4View&, int64_t, const void*) { return false; }
void nf4_gemv_multi(CAct, const NF4View*, const int64_t*, const float* const*, void* const*, int, int64_t, bool,
                    const GemvLora*, int64_t) {
  fail();
}
void nf4_gemv_swiglu(CAct, const NF4View&, const NF4View&, int64_t, int64_t, Act, const GemvLora&, const GemvLora&,
                     int64_t) {
  fail();
}
void lora_xa(CAct, int64_t, int64_t, const float* const*, const int64_t*, float* const*, int) { fail(); }

}  // namespace cuda
}  // namespace plf
