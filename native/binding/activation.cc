// Bindings: swiglu, gelu (erf | tanh), geglu, relu, tanh, scale, add — elementwise over tensors of equal size.
#include "errors.h"
#include "plf/ops.h"
#include <string>

namespace plf {

static const std::initializer_list<DType> kF32 = {DType::F32};

static void same_size(const Op& op, const TensorImpl* ref, std::initializer_list<std::pair<const char*, const TensorImpl*>> ts) {
  for (auto& p : ts)
    if (p.second && p.second->numel() != ref->numel())
      op.shape(std::string(p.first) + " " + p.second->describe() + " does not match " + ref->describe());
}

static bool tanh_mode(const Op& op, size_t i) {
  std::string m = op.info[i].IsString() ? op.info[i].As<Napi::String>().Utf8Value() : "";
  if (m != "none" && m != "tanh") op.fail("PLF_ARG", "approximate must be 'none' or 'tanh'");
  return m == "tanh";
}

// swiglu_forward(gate, up, y): y = silu(gate) · up
static Napi::Value SwigluForward(const Napi::CallbackInfo& info) {
  Op op(info, "swiglu_forward");
  TensorImpl *g = op.t(0, "gate", kF32), *u = op.t(1, "up", kF32), *y = op.t(2, "y", kF32);
  same_size(op, g, {{"up", u}, {"y", y}});
  Device dev = op.device({g, u, y}, true);
  PLF_DISPATCH(op, dev, swiglu_forward, g->as<float>(), u->as<float>(), g->numel(), y->as<float>());
  return info.Env().Undefined();
}

// swiglu_backward(dy, gate, up, dgate | null, dup | null)
static Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  Op op(info, "swiglu_backward");
  TensorImpl *dy = op.t(0, "dy", kF32), *g = op.t(1, "gate", kF32), *u = op.t(2, "up", kF32);
  TensorImpl *dg = op.t(3, "dgate", kF32, true), *du = op.t(4, "dup", kF32, true);
  same_size(op, g, {{"dy", dy}, {"up", u}, {"dgate", dg}, {"dup", du}});
  Device dev = op.device({dy, g, u, dg, du}, true);
  PLF_DISPATCH(op, dev, swiglu_backward, dy->as<float>(), g->as<float>(), u->as<float>(), g->numel(), dg ? dg->as<float>() : nullptr,
                       du ? du->as<float>() : nullptr);
  return info.Env().Undefined();
}

// gelu_forward(x, approximate: 'none' | 'tanh', y)
static Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  Op op(info, "gelu_forward");
  TensorImpl* x = op.t(0, "x", kF32);
  bool t = tanh_mode(op, 1);
  TensorImpl* y = op.t(2, "y", kF32);
  same_size(op, x, {{"y", y}});
  Device dev = op.device({x, y}, true);
  PLF_DISPATCH(op, dev, gelu_forward, x->as<float>(), x->numel(), t, y->as<float>());
  return info.Env().Undefined();
}

// gelu_backward(dy, x, approximate, dx)
static Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Op op(info, "gelu_backward");
  TensorImpl *dy = op.t(0, "dy", kF32), *x = op.t(1, "x", kF32);
  bool t = tanh_mode(op, 2);
  TensorImpl* dx = op.t(3, "dx", kF32);
  same_size(op, x, {{"dy", dy}, {"dx", dx}});
  Device dev = op.device({dy, x, dx}, true);
  PLF_DISPATCH(op, dev, gelu_backward, dy->as<float>(), x->as<float>(), x->numel(), t, dx->as<float>());
  return info.Env().Undefined();
}

// geglu_forward(gate, up, approximate, y): y = gelu(gate) · up (T5's gated-gelu)
static Napi::Value GegluForward(const Napi::CallbackInfo& info) {
  Op op(info, "geglu_forward");
  TensorImpl *g = op.t(0, "gate", kF32), *u = op.t(1, "up", kF32);
  bool t = tanh_mode(op, 2);
  TensorImpl* y = op.t(3, "y", kF32);
  same_size(op, g, {{"up", u}, {"y", y}});
  Device dev = op.device({g, u, y}, true);
  PLF_DISPATCH(op, dev, geglu_forward, g->as<float>(), u->as<float>(), g->numel(), t, y->as<float>());
  return info.Env().Undefined();
}

// geglu_backward(dy, gate, up, approximate, dgate | null, dup | null)
static Napi::Value GegluBackward(const Napi::CallbackInfo& info) {
  Op op(info, "geglu_backward");
  TensorImpl *dy = op.t(0, "dy", kF32), *g = op.t(1, "gate", kF32), *u = op.t(2, "up", kF32);
  bool t = tanh_mode(op, 3);
  TensorImpl *dg = op.t(4, "dgate", kF32, true), *du = op.t(5, "dup", kF32, true);
  same_size(op, g, {{"dy", dy}, {"up", u}, {"dgate", dg}, {"dup", du}});
  Device dev = op.device({dy, g, u, dg, du}, true);
  PLF_DISPATCH(op, dev, geglu_backward, dy->as<float>(), g->as<float>(), u->as<float>(), g->numel(), t, dg ? dg->as<float>() : nullptr,
                      du ? du->as<float>() : nullptr);
  return info.Env().Undefined();
}

// {relu,tanh}_forward(x, y); relu_backward(dy, x, dx); tanh_backward(dy, y, dx) (from the output)
using UnaryFn = void (*)(const float*, int64_t, float*);
using UnaryBwdFn = void (*)(const float*, const float*, int64_t, float*);
template <UnaryFn Cpu, UnaryFn Cuda>
static Napi::Value Unary(const Napi::CallbackInfo& info, const char* name) {
  Op op(info, name);
  TensorImpl *x = op.t(0, "x", kF32), *y = op.t(1, "y", kF32);
  same_size(op, x, {{"y", y}});
  Device dev = op.device({x, y}, true);
  op.kernel([&] { (dev == Device::CUDA ? Cuda : Cpu)(x->as<float>(), x->numel(), y->as<float>()); });
  return info.Env().Undefined();
}
template <UnaryBwdFn Cpu, UnaryBwdFn Cuda>
static Napi::Value UnaryBackward(const Napi::CallbackInfo& info, const char* name, const char* saved) {
  Op op(info, name);
  TensorImpl *dy = op.t(0, "dy", kF32), *s = op.t(1, saved, kF32), *dx = op.t(2, "dx", kF32);
  same_size(op, s, {{"dy", dy}, {"dx", dx}});
  Device dev = op.device({dy, s, dx}, true);
  op.kernel([&] { (dev == Device::CUDA ? Cuda : Cpu)(dy->as<float>(), s->as<float>(), s->numel(), dx->as<float>()); });
  return info.Env().Undefined();
}
static Napi::Value ReluForward(const Napi::CallbackInfo& info) { return Unary<cpu::relu_forward, cuda::relu_forward>(info, "relu_forward"); }
static Napi::Value TanhForward(const Napi::CallbackInfo& info) { return Unary<cpu::tanh_forward, cuda::tanh_forward>(info, "tanh_forward"); }
static Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  return UnaryBackward<cpu::relu_backward, cuda::relu_backward>(info, "relu_backward", "x");
}
static Napi::Value TanhBackward(const Napi::CallbackInfo& info) {
  return UnaryBackward<cpu::tanh_backward, cuda::tanh_backward>(info, "tanh_backward", "y");
}

// scale_forward(x, alpha, y): y = alpha · x (its backward is the same op); y may be x
static Napi::Value ScaleForward(const Napi::CallbackInfo& info) {
  Op op(info, "scale_forward");
  TensorImpl* x = op.t(0, "x", kF32);
  float alpha = float(op.num(1, "alpha"));
  TensorImpl* y = op.t(2, "y", kF32);
  same_size(op, x, {{"y", y}});
  Device dev = op.device({x, y}, true);
  PLF_DISPATCH(op, dev, scale_forward, x->as<float>(), x->numel(), alpha, y->as<float>());
  return info.Env().Undefined();
}

// add_forward(a, b, y): the residual connection (its backward passes dy to both inputs)
static Napi::Value AddForward(const Napi::CallbackInfo& info) {
  Op op(info, "add_forward");
  TensorImpl *a = op.t(0, "a", kF32), *b = op.t(1, "b", kF32), *y = op.t(2, "y", kF32);
  same_size(op, a, {{"b", b}, {"y", y}});
  Device dev = op.device({a, b, y}, true);
  PLF_DISPATCH(op, dev, add_forward, a->as<float>(), b->as<float>(), a->numel(), y->as<float>());
  return info.Env().Undefined();
}

void register_activation(Napi::Env env, Napi::Object exports) {
  exports.Set("swiglu_forward", Napi::Function::New(env, SwigluForward, "swiglu_forward"));
  exports.Set("swiglu_backward", Napi::Function::New(env, SwigluBackward, "swiglu_backward"));
  exports.Set("gelu_forward", Napi::Function::New(env, GeluForward, "gelu_forward"));
  exports.Set("gelu_backward", Napi::Function::New(env, GeluBackward, "gelu_backward"));
  exports.Set("geglu_forward", Napi::Function::New(env, GegluForward, "geglu_forward"));
  exports.Set("geglu_backward", Napi::Function::New(env, GegluBackward, "geglu_backward"));
  exports.Set("relu_forward", Napi::Function::New(env, ReluForward, "relu_forward"));
  exports.Set("relu_backward", Napi::Function::New(env, ReluBackward, "relu_backward"));
  exports.Set("tanh_forward", Napi::Function::New(env, TanhForward, "tanh_forward"));
  exports.Set("tanh_backward", Napi::Function::New(env, TanhBackward, "tanh_backward"));
  exports.Set("scale_forward", Napi::Function::New(env, ScaleForward, "scale_forward"));
  exports.Set("add_forward", Napi::Function::New(env, AddForward, "add_forward"));
}

}  // namespace plf
