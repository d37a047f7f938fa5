// Op argument validation helpers (see errors.h).
#include "errors.h"
#include "plf/memory.h"

namespace plf {

void throw_js(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

TensorImpl* Op::t(size_t i, const char* arg, std::initializer_list<DType> ok, bool optional) const {
  Napi::Value v = i < info.Length() ? info[i] : env.Undefined();
  if (v.IsNull() || v.IsUndefined()) {
    if (optional) return nullptr;
    fail("PLF_ARG", std::string(arg) + " is required (argument " + std::to_string(i) + ")");
  }
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(TensorImpl::ctor.Value()))
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
    if (!first) { first = t; continue; }
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
    int64_t v = t->dtype == DType::I64 ? static_cast<const int64_t*>(src)[i] : int64_t(static_cast<const int32_t*>(src)[i]);
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
