// Op argument checks, guard() and index arguments (see op.h).
#include "op.h"
#include "plf/memory.h"
#include "plf/ops.h"
#include <cmath>

namespace plf {

const std::initializer_list<DType> kAnyFloat = {DType::F32, DType::F16, DType::BF16};

void throw_js(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

void rethrow_typed(Napi::Env env, const char* name) {
  try {
    throw;
  } catch (const Napi::Error& e) {
    Napi::Object o = e.Value();
    if (!o.Has("code") || !o.Get("code").IsString()) {  // a node-addon-api type check, e.g. "A number was expected"
      o.Set("code", Napi::String::New(env, "PLF_ARG"));
      o.Set("message", Napi::String::New(env, std::string(name) + ": " + e.Message()));
    }
    throw;
  } catch (const std::bad_alloc&) {
    throw_js(env, "PLF_NATIVE", std::string(name) + ": out of memory");
  } catch (const std::exception& e) { throw_js(env, "PLF_NATIVE", std::string(name) + ": " + e.what()); } catch (...) {
    throw_js(env, "PLF_NATIVE", std::string(name) + ": unknown native exception");
  }
}

void export_fn(Napi::Env env, Napi::Object exports, const char* name, Callback f) {
  exports.Set(name, Napi::Function::New(
                        env, [name, f](const Napi::CallbackInfo& info) { return guard(info, name, f); }, name));
}

int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || d > kMaxElements) return -1;
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements) return -1;
  }
  return n;
}

TensorImpl* Op::t(size_t i, const char* arg, std::initializer_list<DType> ok, bool optional) const {
  Napi::Value v = i < info.Length() ? info[i] : env.Undefined();
  if (v.IsNull() || v.IsUndefined()) {
    if (optional) return nullptr;
    fail("PLF_ARG", std::string(arg) + " is required (argument " + std::to_string(i) + ")");
  }
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(TensorImpl::Ctor(v.Env())))
    fail("PLF_ARG", std::string(arg) + " must be a tensor");
  TensorImpl* t = TensorImpl::Unwrap(v.As<Napi::Object>());
  if (t->disposed()) fail("PLF_ARG", std::string(arg) + " " + t->describe() + " was disposed");
  bool good = false;
  std::string names;
  for (DType d : ok) {
    good = good || d == t->dtype;
    names += (names.empty() ? "" : "/") + std::string(dtype_name(d));
  }
  if (!good) fail("PLF_DTYPE", std::string(arg) + " must be " + names + ", got " + t->describe());
  return t;
}

double Op::num(size_t i, const char* arg) const {
  if (i >= info.Length() || !info[i].IsNumber()) fail("PLF_ARG", std::string(arg) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

int64_t Op::integer(size_t i, const char* arg, int64_t lo, int64_t hi) const {
  double v = num(i, arg);
  if (!std::isfinite(v) || v != std::floor(v) || v < double(lo) || v > double(hi))
    fail("PLF_ARG", std::string(arg) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                        "], got " + std::to_string(v));
  return int64_t(v);
}

bool Op::flag(size_t i) const { return i < info.Length() && info[i].ToBoolean(); }

void Op::dims(const TensorImpl* t, const char* arg, size_t nd) const {
  if (t->shape.size() != nd)
    shape(std::string(arg) + " must have " + std::to_string(nd) + " dimensions, got " + t->describe());
}

void Op::numel(const TensorImpl* t, const char* arg, int64_t n, const std::string& expect) const {
  if (t->numel() != n) shape(std::string(arg) + " " + t->describe() + " must have " + expect);
}

Device Op::device(std::initializer_list<const TensorImpl*> ts, bool cuda_ok) const {
  const TensorImpl* first = nullptr;
  for (const TensorImpl* t : ts) {
    if (!t) continue;
    if (!first) {
      first = t;
      continue;
    }
    if (t->device() != first->device())
      fail("PLF_DEVICE", "tensors on different devices: " + first->describe() + " and " + t->describe());
  }
  Device d = first ? first->device() : Device::CPU;
  if (d == Device::CUDA && !cuda_ok)
    fail("PLF_DEVICE", "no CUDA kernel for this op in this build yet; move its tensors to the CPU");
  return d;
}

std::vector<int64_t> Op::indices(const TensorImpl* t, const char* arg, int64_t lo, int64_t hi) const {
  int64_t n = t->numel();
  std::vector<int64_t> out(static_cast<size_t>(n));
  const void* src = t->data();
  std::vector<uint8_t> staged;
  if (t->device() == Device::CUDA) {  // small arrays (ids, masks): checked on the host
    staged.resize(size_t(n) * dtype_size(t->dtype));
    run([&] { mem_copy(Device::CPU, staged.data(), Device::CUDA, t->data(), staged.size()); });
    src = staged.data();
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t v =
        t->dtype == DType::I64 ? static_cast<const int64_t*>(src)[i] : int64_t(static_cast<const int32_t*>(src)[i]);
    if (lo <= hi && (v < lo || v >= hi))
      fail("PLF_ARG", std::string(arg) + "[" + std::to_string(i) + "] = " + std::to_string(v) + " is outside [" +
                          std::to_string(lo) + ", " + std::to_string(hi) + ")");
    out[size_t(i)] = v;
  }
  return out;
}

Indices::~Indices() {
  if (device) cuda::free_device(device);
}

void index_arg(const Op& op, const TensorImpl* t, const char* arg, int64_t lo, int64_t hi, Device d, Indices& out,
               bool values_only) {
  if (values_only && d == Device::CUDA && t->device() == Device::CUDA && t->dtype == DType::I64) {
    out.borrowed = static_cast<const int64_t*>(t->data());
    return;
  }
  out.host = op.indices(t, arg, lo, hi);
  if (d != Device::CUDA || out.host.empty()) return;
  op.run([&] {
    out.device = static_cast<int64_t*>(cuda::malloc_device(out.host.size() * sizeof(int64_t)));
    cuda::memcpy_any(out.device, out.host.data(), out.host.size() * sizeof(int64_t), 1);
  });
}

}  // namespace plf
