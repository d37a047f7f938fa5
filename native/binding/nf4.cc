// Bindings: nf4_quantize, nf4_dequantize, and the weight argument shared by the linear ops.
#include "op.h"
#include "weights.h"
#include "plf/nf4.h"
#include "plf/ops.h"
#include <cmath>
#include <vector>

namespace plf {

static const std::initializer_list<DType> kFloat = {DType::F32, DType::F16, DType::BF16};

// {packed, absmax, code, absmaxQ?, nestedAbsmax?, nestedCode?, offset, blocksize, nestedBlocksize, numel}
NF4View nf4_arg(const Op& op, Napi::Object o, const char* arg, Device* dev) {
  auto get = [&](const char* key, std::initializer_list<DType> ok, bool optional) -> TensorImpl* {
    Napi::Value v = o.Get(key);
    if (v.IsNull() || v.IsUndefined()) {
      if (optional) return nullptr;
      op.fail("PLF_ARG", std::string(arg) + "." + key + " is required for an NF4 weight");
    }
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(TensorImpl::Ctor(v.Env())))
      op.fail("PLF_ARG", std::string(arg) + "." + key + " must be a tensor");
    TensorImpl* t = TensorImpl::Unwrap(v.As<Napi::Object>());
    if (t->disposed()) op.fail("PLF_ARG", std::string(arg) + "." + key + " was disposed");
    bool good = false;
    for (DType d : ok) good = good || d == t->dtype;
    if (!good) op.fail("PLF_DTYPE", std::string(arg) + "." + key + " has the wrong dtype: " + t->describe());
    return t;
  };
  // integers read from the object (a file's quant_state feeds them): finite, whole, in range
  auto whole = [&](const char* key, double dflt, double lo, double hi) -> int64_t {
    Napi::Value v = o.Get(key);
    double d = v.IsUndefined() ? dflt : v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(d) || d != std::floor(d) || d < lo || d > hi)
      op.fail("PLF_ARG", std::string(arg) + "." + key + " must be an integer in [" + std::to_string(int64_t(lo)) +
                             ", " + std::to_string(int64_t(hi)) + "], got " +
                             (v.IsNumber() || v.IsUndefined() ? std::to_string(d) : "a non-number"));
    return int64_t(d);
  };
  NF4View w;
  w.numel = whole("numel", -1, 0, double(kMaxElements));
  w.blocksize = whole("blocksize", 64, 2, 1 << 20);
  w.nested_blocksize = whole("nestedBlocksize", 256, 1, 1 << 20);
  Napi::Value off = o.Get("offset");
  w.offset = off.IsNumber() ? float(off.As<Napi::Number>().DoubleValue()) : 0.0f;
  if (!std::isfinite(w.offset)) op.fail("PLF_ARG", std::string(arg) + ".offset must be finite");
  if (w.blocksize % 2)
    op.fail("PLF_ARG", std::string(arg) + ".blocksize must be even, got " + std::to_string(w.blocksize));
  TensorImpl* packed = get("packed", {DType::U8}, false);
  TensorImpl* absmax = get("absmax", {DType::F32, DType::U8}, false);
  TensorImpl* code = get("code", {DType::F32}, false);
  int64_t nblocks = (w.numel + w.blocksize - 1) / w.blocksize;
  op.numel(packed, (std::string(arg) + ".packed").c_str(), (w.numel + 1) / 2,
           std::to_string((w.numel + 1) / 2) + " bytes for " + std::to_string(w.numel) + " elements");
  op.numel(absmax, (std::string(arg) + ".absmax").c_str(), nblocks, std::to_string(nblocks) + " blocks");
  op.numel(code, (std::string(arg) + ".code").c_str(), 16, "16 entries");
  w.packed = packed->as<uint8_t>();
  w.code = code->as<float>();
  TensorImpl *na = nullptr, *nc = nullptr;
  if (absmax->dtype == DType::F32) {
    w.absmax = absmax->as<float>();
  } else {
    na = get("nestedAbsmax", {DType::F32}, false);
    nc = get("nestedCode", {DType::F32}, false);
    int64_t nn = (nblocks + w.nested_blocksize - 1) / w.nested_blocksize;
    op.numel(na, (std::string(arg) + ".nestedAbsmax").c_str(), nn, std::to_string(nn) + " nested blocks");
    op.numel(nc, (std::string(arg) + ".nestedCode").c_str(), 256, "256 entries");
    w.absmax_q = absmax->as<uint8_t>();
    w.nested_absmax = na->as<float>();
    w.nested_code = nc->as<float>();
  }
  *dev = op.device({packed, absmax, code, na, nc}, true);
  return w;
}

WeightView weight_arg(const Op& op, size_t i, const char* arg, Device* dev) {
  Napi::Value v = op.info[i];
  WeightView w;
  if (v.IsObject() && !v.As<Napi::Object>().InstanceOf(TensorImpl::Ctor(v.Env()))) {
    Napi::Object o = v.As<Napi::Object>();
    w.dtype = DType::U8;
    w.nf4 = nf4_arg(op, o, arg, dev);
    auto dim = [&](const char* key) -> int64_t {
      Napi::Value d = o.Get(key);
      double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
      if (!(x >= 0 && x <= double(kMaxElements)) || x != std::floor(x))
        op.shape(std::string(arg) + "." + key + " must be a non-negative integer");
      return int64_t(x);
    };
    w.rows = dim("rows");
    w.cols = dim("cols");
    if (checked_numel({w.rows, w.cols}) != w.nf4.numel)
      op.shape(std::string(arg) + " NF4 shape [" + std::to_string(w.rows) + "," + std::to_string(w.cols) +
               "] does not hold " + std::to_string(w.nf4.numel) + " elements");
    return w;
  }
  TensorImpl* t = op.t(i, arg, kFloat);
  op.dims(t, arg, 2);
  w.dtype = t->dtype;
  w.data = t->data();
  w.rows = t->shape[0];
  w.cols = t->shape[1];
  *dev = t->device();
  return w;
}

// nf4_quantize(x, blocksize, doubleQuant) -> {packed, absmax, code, nestedAbsmax?, nestedCode?, offset?}
static Napi::Value Quantize(const Napi::CallbackInfo& info) {
  Op op(info, "nf4_quantize");
  TensorImpl* x = op.t(0, "x", kFloat);
  Device dev = op.device({x}, true);
  int64_t bs = op.integer(1, "blocksize", 0, 1 << 20);
  bool dq = op.flag(2);
  if (bs < 32 || bs > 4096 || (bs & (bs - 1)))
    op.fail("PLF_ARG", "blocksize must be a power of two in 32…4096, got " + std::to_string(bs));
  int64_t n = x->numel();
  if (n == 0) op.shape("cannot quantize an empty tensor " + x->describe());
  if (dev == Device::CUDA && x->dtype != DType::F32)
    op.fail("PLF_DTYPE", "x must be f32 on cuda, got " + x->describe());
  Napi::Env env = info.Env();
  int64_t nb = (n + bs - 1) / bs;
  std::vector<float> absmax(static_cast<size_t>(nb));
  Napi::Object packed = TensorImpl::Create(env, DType::U8, {(n + 1) / 2, 1}, dev, true);
  if (dev == Device::CUDA) {
    // codes and absmax on the device; the small absmax array comes back for double quantization
    Napi::Object am = TensorImpl::Create(env, DType::F32, {nb}, Device::CUDA, false);
    op.run([&] {
      cuda::nf4_quantize(x->as<float>(), n, bs, TensorImpl::Unwrap(packed)->as<uint8_t>(),
                         TensorImpl::Unwrap(am)->as<float>());
      mem_copy(Device::CPU, absmax.data(), Device::CUDA, TensorImpl::Unwrap(am)->data(), size_t(nb) * 4);
    });
  } else {
    std::vector<float> xf;
    const float* src = x->as<float>();
    if (x->dtype != DType::F32) {
      xf.resize(size_t(n));
      cpu::convert(x->dtype, x->data(), DType::F32, xf.data(), n);
      src = xf.data();
    }
    cpu::nf4_quantize(src, n, bs, TensorImpl::Unwrap(packed)->as<uint8_t>(), absmax.data());
  }
  // a host-built tensor on the weight's device
  auto place = [&](DType dt, std::vector<int64_t> shape, const void* src, size_t bytes) {
    Napi::Object t = TensorImpl::Create(env, dt, shape, dev, false);
    op.run([&] { mem_copy(dev, TensorImpl::Unwrap(t)->data(), Device::CPU, src, bytes); });
    return t;
  };
  Napi::Object r = Napi::Object::New(env);
  r.Set("packed", packed);
  r.Set("code", place(DType::F32, {16}, NF4_CODE, sizeof(NF4_CODE)));
  if (!dq) {
    r.Set("absmax", place(DType::F32, {nb}, absmax.data(), size_t(nb) * 4));
    return r;
  }
  // double quantization: absmax - mean, 8-bit dynamic map in nested blocks of 256
  const int64_t nbs = 256;
  float offset = float(cpu::mean_f32(absmax.data(), nb));
  for (float& a : absmax) a -= offset;
  int64_t nn = (nb + nbs - 1) / nbs;
  std::vector<uint8_t> q(static_cast<size_t>(nb));
  std::vector<float> na(static_cast<size_t>(nn)), dyn(256);
  cpu::dynamic_map_signed(dyn.data());
  cpu::blockwise_quantize_u8(absmax.data(), nb, nbs, dyn.data(), q.data(), na.data());
  r.Set("absmax", place(DType::U8, {nb}, q.data(), q.size()));
  r.Set("nestedAbsmax", place(DType::F32, {nn}, na.data(), na.size() * 4));
  r.Set("nestedCode", place(DType::F32, {256}, dyn.data(), 256 * 4));
  r.Set("offset", Napi::Number::New(env, double(offset)));
  return r;
}

// nf4_dequantize(w, out): out f32/f16/bf16 with w.numel elements, on the weight's device.
static Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  Op op(info, "nf4_dequantize");
  if (!info[0].IsObject()) op.fail("PLF_ARG", "w must be an NF4 weight object");
  Device dev;
  NF4View w = nf4_arg(op, info[0].As<Napi::Object>(), "w", &dev);
  TensorImpl* out = op.t(1, "out", kFloat);
  op.numel(out, "out", w.numel, std::to_string(w.numel) + " elements");
  if (out->device() != dev) op.fail("PLF_DEVICE", "out " + out->describe() + " is not on the weight's device");
  op.kernel([&] {
    if (dev == Device::CUDA)
      cuda::nf4_dequantize(w, out->dtype, out->data());
    else
      cpu::nf4_dequantize(w, out->dtype, out->data());
  });
  return info.Env().Undefined();
}

void register_nf4(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "nf4_quantize", Quantize);
  export_fn(env, exports, "nf4_dequantize", Dequantize);
}

}  // namespace plf
