// NativeTensor: creation, host <-> device copies, views, dispose.
#include "tensor.h"
#include "op.h"
#include <cmath>
#include <sstream>

namespace plf {

Napi::Function TensorImpl::Ctor(Napi::Env env) { return env.GetInstanceData<Napi::FunctionReference>()->Value(); }

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); i++) o << (i ? "," : "") << s[i];
  o << "]";
  return o.str();
}

int64_t TensorImpl::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorImpl::describe() const {
  std::string s = std::string(dtype_name(dtype)) + shape_str(shape);
  if (!disposed() && device() == Device::CUDA) s += " on cuda";
  return s;
}

static DType parse_dtype(Napi::Env env, int v) {
  if (v < 0 || v > 5) throw_js(env, "PLF_DTYPE", "NativeTensor: unknown dtype code " + std::to_string(v));
  return DType(v);
}

static std::vector<int64_t> parse_shape(Napi::Env env, Napi::Value v, const char* who) {
  if (!v.IsArray()) throw_js(env, "PLF_SHAPE", std::string(who) + ": shape must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> s;
  std::vector<double> raw;  // kept for the message only (a tensor is made per op output: no strings on that path)
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d != double(int64_t(d)))
      throw_js(env, "PLF_SHAPE", std::string(who) + ": shape entries must be non-negative integers");
    s.push_back(d <= double(kMaxElements) ? int64_t(d) : -1);
    raw.push_back(d);
  }
  if (checked_numel(s) < 0) {
    std::string given = "[";
    for (size_t i = 0; i < raw.size(); i++)
      given += (i ? "," : "") + (s[i] >= 0 ? std::to_string(s[i]) : std::to_string(raw[i]));
    throw_js(env, "PLF_SHAPE",
             std::string(who) + ": shape " + given + "] has more than 2^48 elements (or a dimension that large)");
  }
  return s;
}

// new NativeTensor(dtype, shape, device, zero) allocates; new NativeTensor() is an empty shell for views.
TensorImpl::TensorImpl(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorImpl>(info) {
  if (info.Length() == 0) return;
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[2].IsNumber())
    throw_js(env, "PLF_ARG", "NativeTensor(dtype, shape, device, zero): dtype and device must be numbers");
  dtype = parse_dtype(env, info[0].As<Napi::Number>().Int32Value());
  shape = parse_shape(env, info[1], "NativeTensor");
  if (nbytes() > size_t(kMaxElements))
    throw_js(env, "PLF_SHAPE", "NativeTensor: " + describe() + " is larger than 2^48 bytes");
  Device dev = info[2].As<Napi::Number>().Int32Value() == 1 ? Device::CUDA : Device::CPU;
  bool zero = info.Length() > 3 && info[3].ToBoolean();
  try {
    storage = std::make_shared<Storage>(dev, nbytes());
    if (zero) mem_zero(dev, storage->ptr, storage->bytes);
  } catch (const std::bad_alloc&) {
    throw_js(env, "PLF_NATIVE", std::string("NativeTensor ") + describe() + ": out of memory");
  } catch (const std::exception& e) {
    throw_js(env, "PLF_NATIVE", std::string("NativeTensor ") + describe() + ": " + e.what());
  }
}

Napi::Object TensorImpl::Create(Napi::Env env, DType dt, const std::vector<int64_t>& shape, Device dev, bool zero) {
  Napi::Array s = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); i++) s.Set(uint32_t(i), Napi::Number::New(env, double(shape[i])));
  return Ctor(env).New(
      {Napi::Number::New(env, int(dt)), s, Napi::Number::New(env, int(dev)), Napi::Boolean::New(env, zero)});
}

// Methods run under guard() like the exported functions (see op.h).
template <Napi::Value (TensorImpl::*M)(const Napi::CallbackInfo&)>
Napi::Value TensorImpl::Guarded(const Napi::CallbackInfo& info) {
  return guard(info, "NativeTensor", [this](const Napi::CallbackInfo& i) { return (this->*M)(i); });
}

void TensorImpl::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "NativeTensor",
                                 {
                                     InstanceMethod("dispose", &TensorImpl::Guarded<&TensorImpl::Dispose>),
                                     InstanceMethod("copyFromArray", &TensorImpl::Guarded<&TensorImpl::CopyFromArray>),
                                     InstanceMethod("copyToArray", &TensorImpl::Guarded<&TensorImpl::CopyToArray>),
                                     InstanceMethod("copyFrom", &TensorImpl::Guarded<&TensorImpl::CopyFrom>),
                                     InstanceMethod("zero", &TensorImpl::Guarded<&TensorImpl::Zero>),
                                     InstanceMethod("view", &TensorImpl::Guarded<&TensorImpl::View>),
                                     InstanceMethod("to", &TensorImpl::Guarded<&TensorImpl::To>),
                                     InstanceMethod("sharesStorage", &TensorImpl::Guarded<&TensorImpl::SharesStorage>),
                                     InstanceAccessor("dtype", &TensorImpl::GetDType, nullptr),
                                     InstanceAccessor("shape", &TensorImpl::GetShape, nullptr),
                                     InstanceAccessor("device", &TensorImpl::GetDevice, nullptr),
                                     InstanceAccessor("disposed", &TensorImpl::GetDisposed, nullptr),
                                 });
  env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(f)));  // freed with the environment
  exports.Set("NativeTensor", f);
}

Napi::Value TensorImpl::Dispose(const Napi::CallbackInfo& info) {
  storage.reset();
  return info.Env().Undefined();
}

static void live(Napi::Env env, const TensorImpl* t, const char* what) {
  if (t->disposed()) throw_js(env, "PLF_ARG", std::string(what) + ": tensor " + t->describe() + " was disposed");
}

// copyFromArray(typedArray, byteOffset?): without an offset the byte lengths must agree exactly;
// with one, the array's bytes land at [byteOffset, byteOffset + length) (tensors read in chunks).
Napi::Value TensorImpl::CopyFromArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  live(env, this, "copyFromArray");
  if (!info[0].IsTypedArray()) throw_js(env, "PLF_ARG", "copyFromArray: expected a TypedArray");
  Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  size_t bytes = a.ByteLength();
  size_t at = 0;
  bool partial = info.Length() > 1 && !info[1].IsUndefined();
  if (partial) {
    double d = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= double(kMaxElements)) || d != std::floor(d))
      throw_js(env, "PLF_ARG", "copyFromArray: byteOffset must be a non-negative integer");
    at = size_t(d);
  }
  if (partial ? at + bytes > nbytes() : bytes != nbytes())
    throw_js(env, "PLF_SHAPE",
             "copyFromArray: " + std::to_string(bytes) + " bytes given" +
                 (partial ? " at byte " + std::to_string(at) : std::string()) + " for tensor " + describe() + " of " +
                 std::to_string(nbytes()) + " bytes");
  const char* src = static_cast<const char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  try {
    mem_copy(device(), static_cast<char*>(data()) + at, Device::CPU, src, bytes);
  } catch (const std::exception& e) { throw_js(env, "PLF_NATIVE", std::string("copyFromArray: ") + e.what()); }
  return env.Undefined();
}

Napi::Value TensorImpl::CopyToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  live(env, this, "copyToArray");
  if (!info[0].IsTypedArray()) throw_js(env, "PLF_ARG", "copyToArray: expected a TypedArray");
  Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  if (a.ByteLength() != nbytes())
    throw_js(env, "PLF_SHAPE",
             "copyToArray: array of " + std::to_string(a.ByteLength()) + " bytes for tensor " + describe() + " of " +
                 std::to_string(nbytes()) + " bytes");
  char* dst = static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  try {
    mem_copy(Device::CPU, dst, device(), data(), nbytes());
  } catch (const std::exception& e) { throw_js(env, "PLF_NATIVE", std::string("copyToArray: ") + e.what()); }
  return env.Undefined();
}

// copyFrom(other): same dtype and element count, any devices.
Napi::Value TensorImpl::CopyFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Op op(info, "copyFrom");
  TensorImpl* src = op.t(0, "src", {DType::F32, DType::F16, DType::BF16, DType::U8, DType::I32, DType::I64});
  live(env, this, "copyFrom");
  if (src->dtype != dtype || src->numel() != numel())
    op.shape("source " + src->describe() + " does not match destination " + describe());
  try {
    mem_copy(device(), data(), src->device(), src->data(), nbytes());
  } catch (const std::exception& e) { throw_js(env, "PLF_NATIVE", std::string("copyFrom: ") + e.what()); }
  return env.Undefined();
}

// zero(): every element of this tensor (a view: its range) set to 0; on CUDA queued on plf's stream
Napi::Value TensorImpl::Zero(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  live(env, this, "zero");
  try {
    mem_zero(device(), data(), nbytes());
  } catch (const std::exception& e) { throw_js(env, "PLF_NATIVE", std::string("zero: ") + e.what()); }
  return env.Undefined();
}

// view(shape, elementOffset): a tensor sharing this storage.
Napi::Value TensorImpl::View(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  live(env, this, "view");
  std::vector<int64_t> s = parse_shape(env, info[0], "view");
  double offd = info.Length() > 1 && info[1].IsNumber()       ? info[1].As<Napi::Number>().DoubleValue()
                : info.Length() > 1 && !info[1].IsUndefined() ? -1
                                                              : 0;
  int64_t n = checked_numel(s);
  if (!(offd >= 0 && offd <= double(kMaxElements)) || offd != std::floor(offd))
    throw_js(env, "PLF_ARG", "view: elementOffset must be a non-negative integer");
  int64_t off = int64_t(offd);
  if (off + n > numel())
    throw_js(env, "PLF_SHAPE",
             "view: " + shape_str(s) + " at element " + std::to_string(off) + " does not fit in tensor " + describe());
  Napi::Object o = Ctor(env).New({});
  TensorImpl* v = TensorImpl::Unwrap(o);
  v->storage = storage;
  v->offset = offset + size_t(off) * dtype_size(dtype);
  v->dtype = dtype;
  v->shape = s;
  return o;
}

// to(device): a copy on the given device (0 cpu, 1 cuda).
Napi::Value TensorImpl::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  live(env, this, "to");
  if (!info[0].IsNumber()) throw_js(env, "PLF_ARG", "to: device must be a number (0 cpu, 1 cuda)");
  Device dev = info[0].As<Napi::Number>().Int32Value() == 1 ? Device::CUDA : Device::CPU;
  Napi::Object o = Create(env, dtype, shape, dev, false);
  TensorImpl* t = TensorImpl::Unwrap(o);
  try {
    mem_copy(dev, t->data(), device(), data(), nbytes());
  } catch (const std::exception& e) { throw_js(env, "PLF_NATIVE", std::string("to: ") + e.what()); }
  return o;
}

Napi::Value TensorImpl::SharesStorage(const Napi::CallbackInfo& info) {
  Op op(info, "sharesStorage");
  TensorImpl* o = op.t(0, "other", {DType::F32, DType::F16, DType::BF16, DType::U8, DType::I32, DType::I64});
  return Napi::Boolean::New(info.Env(), !disposed() && o->storage == storage);
}

Napi::Value TensorImpl::GetDType(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), int(dtype)); }
Napi::Value TensorImpl::GetShape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), shape.size());
  for (size_t i = 0; i < shape.size(); i++) a.Set(uint32_t(i), Napi::Number::New(info.Env(), double(shape[i])));
  return a;
}
Napi::Value TensorImpl::GetDevice(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), int(device()));
}
Napi::Value TensorImpl::GetDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed());
}

}  // namespace plf
