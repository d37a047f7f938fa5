// Bindings: swiglu, gelu (erf | tanh), add — elementwise over tensors of equal size.
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
  op.device({g, u, y});
  cpu::swiglu_forward(g->as<float>(), u->as<float>(), g->numel(), y->as<float>());
  return info.Env().Undefined();
}

// swiglu_backward(dy, gate, up, dgate | null, dup | null)
static Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  Op op(info, "swiglu_backward");
  TensorImpl *dy = op.t(0, "dy", kF32), *g = op.t(1, "gate", kF32), *u = op.t(2, "up", kF32);
  TensorImpl *dg = op.t(3, "dgate", kF32, true), *du = op.t(4, "dup", kF32, true);
  same_size(op, g, {{"dy", dy}, {"up", u}, {"dgate", dg}, {"dup", du}});
  op.device({dy, g, u, dg, du});
  cpu::swiglu_backward(dy->as<float>(), g->as<float>(), u->as<float>(), g->numel(), dg ? dg->as<float>() : nullptr,
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
  op.device({x, y});
  cpu::gelu_forward(x->as<float>(), x->numel(), t, y->as<float>());
  return info.Env().Undefined();
}

// gelu_backward(dy, x, approximate, dx)
static Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Op op(info, "gelu_backward");
  TensorImpl *dy = op.t(0, "dy", kF32), *x = op.t(1, "x", kF32);
  bool t = tanh_mode(op, 2);
  TensorImpl* dx = op.t(3, "dx", kF32);
  same_size(op, x, {{"dy", dy}, {"dx", dx}});
  op.device({dy, x, dx});
  cpu::gelu_backward(dy->as<float>(), x->as<float>(), x->numel(), t, dx->as<float>());
  return info.Env().Undefined();
}

// add_forward(a, b, y): the residual connection (its backward passes dy to both inputs)
static Napi::Value AddForward(const Napi::CallbackInfo& info) {
  Op op(info, "add_forward");
  TensorImpl *a = op.t(0, "a", kF32), *b = op.t(1, "b", kF32), *y = op.t(2, "y", kF32);
  same_size(op, a, {{"b", b}, {"y", y}});
  op.device({a, b, y});
  cpu::add_forward(a->as<float>(), b->as<float>(), a->numel(), y->as<float>());
  return info.Env().Undefined();
}

void register_activation(Napi::Env env, Napi::Object exports) {
  exports.Set("swiglu_forward", Napi::Function::New(env, SwigluForward, "swiglu_forward"));
  exports.Set("swiglu_backward", Napi::Function::New(env, SwigluBackward, "swiglu_backward"));
  exports.Set("gelu_forward", Napi::Function::New(env, GeluForward, "gelu_forward"));
  exports.Set("gelu_backward", Napi::Function::New(env, GeluBackward, "gelu_backward"));
  exports.Set("add_forward", Napi::Function::New(env, AddForward, "add_forward"));
}

}  // namespace plf
