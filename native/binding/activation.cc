// Bindings: swiglu, gelu (erf | tanh), geglu, relu, tanh, scale, add — elementwise over tensors of equal size.
#include "op.h"
#include "plf/ops.h"
#include <string>

namespace plf {

static void same_size(const Op& op, const TensorImpl* ref,
                      std::initializer_list<std::pair<const char*, const TensorImpl*>> ts) {
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
  TensorImpl *g = op.t(0, "gate", kAnyFloat), *u = op.t(1, "up", kAnyFloat), *y = op.t(2, "y", kAnyFloat);
  same_size(op, g, {{"up", u}, {"y", y}});
  Device dev = op.device({g, u, y}, true);
  op.acts({g, u, y});
  PLF_DISPATCH(op, dev, swiglu_forward, op.a_in(g), op.a_in(u), g->numel(), op.a_out(y));
  return info.Env().Undefined();
}

// swiglu_backward(dy, gate, up, dgate | null, dup | null)
static Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  Op op(info, "swiglu_backward");
  TensorImpl *dy = op.t(0, "dy", kAnyFloat), *g = op.t(1, "gate", kAnyFloat), *u = op.t(2, "up", kAnyFloat);
  TensorImpl *dg = op.t(3, "dgate", kAnyFloat, true), *du = op.t(4, "dup", kAnyFloat, true);
  same_size(op, g, {{"dy", dy}, {"up", u}, {"dgate", dg}, {"dup", du}});
  Device dev = op.device({dy, g, u, dg, du}, true);
  op.acts({dy, g, u, dg, du});
  PLF_DISPATCH(op, dev, swiglu_backward, op.a_in(dy), op.a_in(g), op.a_in(u), g->numel(), op.a_out(dg), op.a_out(du));
  return info.Env().Undefined();
}

// gelu_forward(x, approximate: 'none' | 'tanh', y)
static Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  Op op(info, "gelu_forward");
  TensorImpl* x = op.t(0, "x", kAnyFloat);
  bool t = tanh_mode(op, 1);
  TensorImpl* y = op.t(2, "y", kAnyFloat);
  same_size(op, x, {{"y", y}});
  Device dev = op.device({x, y}, true);
  op.acts({x, y});
  PLF_DISPATCH(op, dev, gelu_forward, op.a_in(x), x->numel(), t, op.a_out(y));
  return info.Env().Undefined();
}

// gelu_backward(dy, x, approximate, dx)
static Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Op op(info, "gelu_backward");
  TensorImpl *dy = op.t(0, "dy", kAnyFloat), *x = op.t(1, "x", kAnyFloat);
  bool t = tanh_mode(op, 2);
  TensorImpl* dx = op.t(3, "dx", kAnyFloat);
  same_size(op, x, {{"dy", dy}, {"dx", dx}});
  Device dev = op.device({dy, x, dx}, true);
  op.acts({dy, x, dx});
  PLF_DISPATCH(op, dev, gelu_backward, op.a_in(dy), op.a_in(x), x->numel(), t, op.a_out(dx));
  return info.Env().Undefined();
}

// geglu_forward(gate, up, approximate, y): y = gelu(gate) · up (T5's gated-gelu)
static Napi::Value GegluForward(const Napi::CallbackInfo& info) {
  Op op(info, "geglu_forward");
  TensorImpl *g = op.t(0, "gate", kAnyFloat), *u = op.t(1, "up", kAnyFloat);
  bool t = tanh_mode(op, 2);
  TensorImpl* y = op.t(3, "y", kAnyFloat);
  same_size(op, g, {{"up", u}, {"y", y}});
  Device dev = op.device({g, u, y}, true);
  op.acts({g, u, y});
  PLF_DISPATCH(op, dev, geglu_forward, op.a_in(g), op.a_in(u), g->numel(), t, op.a_out(y));
  return info.Env().Undefined();
}

// geglu_backward(dy, gate, up, approximate, dgate | null, dup | null)
static Napi::Value GegluBackward(const Napi::CallbackInfo& info) {
  Op op(info, "geglu_backward");
  TensorImpl *dy = op.t(0, "dy", kAnyFloat), *g = op.t(1, "gate", kAnyFloat), *u = op.t(2, "up", kAnyFloat);
  bool t = tanh_mode(op, 3);
  TensorImpl *dg = op.t(4, "dgate", kAnyFloat, true), *du = op.t(5, "dup", kAnyFloat, true);
  same_size(op, g, {{"dy", dy}, {"up", u}, {"dgate", dg}, {"dup", du}});
  Device dev = op.device({dy, g, u, dg, du}, true);
  op.acts({dy, g, u, dg, du});
  PLF_DISPATCH(op, dev, geglu_backward, op.a_in(dy), op.a_in(g), op.a_in(u), g->numel(), t, op.a_out(dg), op.a_out(du));
  return info.Env().Undefined();
}

// {relu,tanh}_forward(x, y); relu_backward(dy, x, dx); tanh_backward(dy, y, dx) (from the output)
using UnaryFn = void (*)(const float*, int64_t, float*);
using UnaryBwdFn = void (*)(const float*, const float*, int64_t, float*);
using UnaryCudaFn = void (*)(CAct, int64_t, Act);
using UnaryBwdCudaFn = void (*)(CAct, CAct, int64_t, Act);
template <UnaryFn Cpu, UnaryCudaFn Cuda>
static Napi::Value Unary(const Napi::CallbackInfo& info, const char* name) {
  Op op(info, name);
  TensorImpl *x = op.t(0, "x", kAnyFloat), *y = op.t(1, "y", kAnyFloat);
  same_size(op, x, {{"y", y}});
  Device dev = op.device({x, y}, true);
  op.acts({x, y});
  op.kernel([&] {
    if (dev == Device::CUDA)
      Cuda(op.a_in(x), x->numel(), op.a_out(y));
    else
      Cpu(op.a_in(x), x->numel(), op.a_out(y));
  });
  return info.Env().Undefined();
}
template <UnaryBwdFn Cpu, UnaryBwdCudaFn Cuda>
static Napi::Value UnaryBackward(const Napi::CallbackInfo& info, const char* name, const char* saved) {
  Op op(info, name);
  TensorImpl *dy = op.t(0, "dy", kAnyFloat), *s = op.t(1, saved, kAnyFloat), *dx = op.t(2, "dx", kAnyFloat);
  same_size(op, s, {{"dy", dy}, {"dx", dx}});
  Device dev = op.device({dy, s, dx}, true);
  op.acts({dy, s, dx});
  op.kernel([&] {
    if (dev == Device::CUDA)
      Cuda(op.a_in(dy), op.a_in(s), s->numel(), op.a_out(dx));
    else
      Cpu(op.a_in(dy), op.a_in(s), s->numel(), op.a_out(dx));
  });
  return info.Env().Undefined();
}
static Napi::Value ReluForward(const Napi::CallbackInfo& info) {
  return Unary<cpu::relu_forward, cuda::relu_forward>(info, "relu_forward");
}
static Napi::Value TanhForward(const Napi::CallbackInfo& info) {
  return Unary<cpu::tanh_forward, cuda::tanh_forward>(info, "tanh_forward");
}
static Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  return UnaryBackward<cpu::relu_backward, cuda::relu_backward>(info, "relu_backward", "x");
}
static Napi::Value TanhBackward(const Napi::CallbackInfo& info) {
  return UnaryBackward<cpu::tanh_backward, cuda::tanh_backward>(info, "tanh_backward", "y");
}

// scale_forward(x, alpha, y): y = alpha · x (its backward is the same op); y may be x
static Napi::Value ScaleForward(const Napi::CallbackInfo& info) {
  Op op(info, "scale_forward");
  TensorImpl* x = op.t(0, "x", kAnyFloat);
  float alpha = float(op.num(1, "alpha"));
  TensorImpl* y = op.t(2, "y", kAnyFloat);
  same_size(op, x, {{"y", y}});
  Device dev = op.device({x, y}, true);
  op.acts({x, y});
  PLF_DISPATCH(op, dev, scale_forward, op.a_in(x), x->numel(), alpha, op.a_out(y));
  return info.Env().Undefined();
}

// add_forward(a, b, y): the residual connection (its backward passes dy to both inputs)
static Napi::Value AddForward(const Napi::CallbackInfo& info) {
  Op op(info, "add_forward");
  TensorImpl *a = op.t(0, "a", kAnyFloat), *b = op.t(1, "b", kAnyFloat), *y = op.t(2, "y", kAnyFloat);
  same_size(op, a, {{"b", b}, {"y", y}});
  Device dev = op.device({a, b, y}, true);
  op.acts({a, b, y});
  PLF_DISPATCH(op, dev, add_forward, op.a_in(a), op.a_in(b), a->numel(), op.a_out(y));
  return info.Env().Undefined();
}

void register_activation(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "swiglu_forward", SwigluForward);
  export_fn(env, exports, "swiglu_backward", SwigluBackward);
  export_fn(env, exports, "gelu_forward", GeluForward);
  export_fn(env, exports, "gelu_backward", GeluBackward);
  export_fn(env, exports, "geglu_forward", GegluForward);
  export_fn(env, exports, "geglu_backward", GegluBackward);
  export_fn(env, exports, "relu_forward", ReluForward);
  export_fn(env, exports, "relu_backward", ReluBackward);
  export_fn(env, exports, "tanh_forward", TanhForward);
  export_fn(env, exports, "tanh_backward", TanhBackward);
  export_fn(env, exports, "scale_forward", ScaleForward);
  export_fn(env, exports, "add_forward", AddForward);
}

}  // namespace plf
