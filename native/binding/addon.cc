// Addon entry: registers every op family, the tensor class, build/device info and memory stats.
#include <napi.h>
#include "plf_build_config.h"
#include "op.h"
#include "plf/linear.h"
#include "plf/cublaslt.h"
#include "plf/ops.h"
#ifdef PLF_OPENMP
#include <omp.h>
#endif

namespace plf {

void register_nf4(Napi::Env, Napi::Object);
void register_linear(Napi::Env, Napi::Object);
void register_optim(Napi::Env, Napi::Object);
void register_norm(Napi::Env, Napi::Object);
void register_attention(Napi::Env, Napi::Object);
void register_activation(Napi::Env, Napi::Object);
void register_loss(Napi::Env, Napi::Object);
void register_embedding(Napi::Env, Napi::Object);
void register_copy(Napi::Env, Napi::Object);
void register_graph(Napi::Env, Napi::Object);
void register_profile(Napi::Env, Napi::Object);

static const std::initializer_list<DType> kFloat = {DType::F32, DType::F16, DType::BF16};

// convert(src, dst): f32/f16/bf16 of equal element count, same device
static Napi::Value Convert(const Napi::CallbackInfo& info) {
  Op op(info, "convert");
  TensorImpl *src = op.t(0, "src", kFloat), *dst = op.t(1, "dst", kFloat);
  op.numel(dst, "dst", src->numel(), "as many elements as src " + src->describe());
  Device d = op.device({src, dst}, true);
  try {
    if (d == Device::CUDA)
      cuda::convert(src->dtype, src->data(), dst->dtype, dst->data(), src->numel());
    else
      cpu::convert(src->dtype, src->data(), dst->dtype, dst->data(), src->numel());
  } catch (const std::exception& e) { op.fail("PLF_NATIVE", e.what()); }
  return info.Env().Undefined();
}

static Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
#ifdef PLF_WITH_CUDA
  o.Set("cuda", true);
#else
  o.Set("cuda", false);
#endif
  o.Set("cudaArchs", PLF_CUDA_ARCHS);
  o.Set("cudaBuild", PLF_CUDA_REASON);
#ifdef PLF_OPENMP
  o.Set("openmp", true);
  o.Set("threads", omp_get_max_threads());
#else
  o.Set("openmp", false);
  o.Set("threads", 1);
#endif
  o.Set("simd", cpu::simd_name());
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

static Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cuda::DeviceInfo d = cuda::device_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", d.compiled);
  o.Set("usable", d.usable);
  o.Set("reason", d.reason);
  o.Set("name", d.name);
  o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
  o.Set("count", d.count);
  o.Set("totalMemory", double(d.total_mem));
  o.Set("freeMemory", double(d.free_mem));
  o.Set("driverVersion", d.driver_version);
  o.Set("runtimeVersion", d.runtime_version);
  Napi::Object lt = Napi::Object::New(env);
  cuda::lt::Info li;
  if (d.usable)
    li = cuda::lt::info();  // opening it needs a usable device (its workspace)
  else
    li.reason = "no usable CUDA device";
  lt.Set("loaded", li.loaded);
  lt.Set("enabled", li.enabled);
  lt.Set("library", li.library);
  lt.Set("version", double(li.version));
  lt.Set("reason", li.reason);
  o.Set("cublasLt", lt);
  return o;
}

static Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  for (Device d : {Device::CPU, Device::CUDA}) {
    MemStats s = mem_stats(d);
    Napi::Object m = Napi::Object::New(env);
    m.Set("live", double(s.live));
    m.Set("peak", double(s.peak));
    m.Set("allocations", double(s.allocs));
    if (d == Device::CUDA) {
      int64_t now = 0, peak = 0;
      cuda::reserved_stats(&now, &peak);
      m.Set("reserved", double(now));
      m.Set("reservedPeak", double(peak));
    }
    o.Set(d == Device::CPU ? "cpu" : "cuda", m);
  }
  return o;
}

// reset_peak(): peaks := what is held now (to measure one phase)
static Napi::Value ResetPeak(const Napi::CallbackInfo& info) {
  mem_reset_peak();
  return info.Env().Undefined();
}
// empty_cache(): hands the host heaps' free pages back to the system and the CUDA allocator's
// unused blocks back to the driver
static Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  try {
    host_empty_cache();
    cuda::empty_cache();
  } catch (const std::exception& e) { throw_js(info.Env(), "PLF_NATIVE", std::string("empty_cache: ") + e.what()); }
  return info.Env().Undefined();
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
#ifdef PLF_OPENMP
  if (info[0].IsNumber() && info[0].As<Napi::Number>().Int32Value() > 0)
    omp_set_num_threads(info[0].As<Napi::Number>().Int32Value());
#endif
  return info.Env().Undefined();
}

static Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  try {
    cuda::synchronize();
  } catch (const std::exception& e) { throw_js(info.Env(), "PLF_NATIVE", e.what()); }
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  TensorImpl::Init(env, exports);
  register_nf4(env, exports);
  register_linear(env, exports);
  register_optim(env, exports);
  register_norm(env, exports);
  register_attention(env, exports);
  register_activation(env, exports);
  register_loss(env, exports);
  register_embedding(env, exports);
  register_copy(env, exports);
  register_graph(env, exports);
  register_profile(env, exports);
  export_fn(env, exports, "convert", Convert);
  export_fn(env, exports, "build_info", BuildInfo);
  export_fn(env, exports, "cuda_info", CudaInfo);
  export_fn(env, exports, "memory", Memory);
  export_fn(env, exports, "reset_peak", ResetPeak);
  export_fn(env, exports, "empty_cache", EmptyCache);
  export_fn(env, exports, "set_threads", SetThreads);
  export_fn(env, exports, "synchronize", Synchronize);
  return exports;
}

}  // namespace plf

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return plf::Init(env, exports); }
NODE_API_MODULE(plf_native, InitAddon)
