// Binding: adamw_step(list, config) -> {gradNorm, skipped}
// list items: {param (f32/bf16/f16), master (f32) | null, grad (f32), m (f32), v (f32)}
#include "op.h"
#include "plf/optim.h"
#include <cmath>
#include <vector>

namespace plf {

static Napi::Value AdamW(const Napi::CallbackInfo& info) {
  Op op(info, "adamw_step");
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) op.fail("PLF_ARG", "the first argument must be an array of {param, master, grad, m, v}");
  if (!info[1].IsObject()) op.fail("PLF_ARG", "the second argument must be a config object");
  Napi::Array list = info[0].As<Napi::Array>();
  Napi::Object c = info[1].As<Napi::Object>();
  auto cnum = [&](const char* k, double d) {
    Napi::Value v = c.Get(k);
    if (v.IsUndefined()) return d;
    if (!v.IsNumber()) op.fail("PLF_ARG", std::string("config.") + k + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  };
  AdamWConfig cfg;
  cfg.lr = cnum("lr", cfg.lr);
  cfg.beta1 = cnum("beta1", cfg.beta1);
  cfg.beta2 = cnum("beta2", cfg.beta2);
  cfg.eps = cnum("eps", cfg.eps);
  cfg.weight_decay = cnum("weightDecay", cfg.weight_decay);
  double step = cnum("step", 1);
  if (!(step >= 1 && step <= 9007199254740992.0) || step != std::floor(step))
    op.fail("PLF_ARG", "config.step must be an integer >= 1");
  cfg.step = int64_t(step);
  cfg.grad_scale = cnum("gradScale", 1.0);
  cfg.max_grad_norm = cnum("maxGradNorm", 0.0);
  Napi::Value skip = c.Get("skipNonFinite");
  if (!skip.IsUndefined() && !skip.IsNull()) {
    if (!skip.IsBoolean()) op.fail("PLF_ARG", "config.skipNonFinite must be a boolean");
    cfg.skip_nonfinite = skip.As<Napi::Boolean>().Value();
  }
  if (cfg.step < 1) op.fail("PLF_ARG", "config.step must be >= 1");
  if (!(cfg.grad_scale > 0)) op.fail("PLF_ARG", "config.gradScale must be > 0");

  std::vector<AdamWParam> ps(list.Length());
  Device dev = Device::CPU;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) op.fail("PLF_ARG", "item " + std::to_string(i) + " is not an object");
    Napi::Object o = item.As<Napi::Object>();
    auto tensor = [&](const char* k, std::initializer_list<DType> ok, bool optional) -> TensorImpl* {
      Napi::Value v = o.Get(k);
      if (v.IsNull() || v.IsUndefined()) {
        if (optional) return nullptr;
        op.fail("PLF_ARG", "item " + std::to_string(i) + "." + k + " is required");
      }
      if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(TensorImpl::Ctor(v.Env())))
        op.fail("PLF_ARG", "item " + std::to_string(i) + "." + k + " must be a tensor");
      TensorImpl* t = TensorImpl::Unwrap(v.As<Napi::Object>());
      if (t->disposed()) op.fail("PLF_ARG", "item " + std::to_string(i) + "." + k + " was disposed");
      bool good = false;
      for (DType d : ok) good = good || t->dtype == d;
      if (!good) op.fail("PLF_DTYPE", "item " + std::to_string(i) + "." + k + " has dtype " + t->describe());
      return t;
    };
    TensorImpl* p = tensor("param", {DType::F32, DType::BF16, DType::F16}, false);
    TensorImpl* mw = tensor("master", {DType::F32}, true);
    TensorImpl* g = tensor("grad", {DType::F32}, false);
    TensorImpl* m = tensor("m", {DType::F32}, false);
    TensorImpl* v = tensor("v", {DType::F32}, false);
    int64_t n = p->numel();
    for (TensorImpl* t : {mw, g, m, v})
      if (t && t->numel() != n)
        op.shape("item " + std::to_string(i) + ": " + t->describe() + " does not match param " + p->describe());
    if (p->dtype != DType::F32 && !mw)
      op.fail("PLF_ARG",
              "item " + std::to_string(i) + ": a " + dtype_name(p->dtype) + " param needs an f32 master copy");
    Device d = op.device({p, mw, g, m, v}, true);
    if (i > 0 && d != dev) op.fail("PLF_DEVICE", "item " + std::to_string(i) + " is on another device than item 0");
    dev = d;
    AdamWParam& a = ps[i];
    a.dtype = p->dtype;
    a.param = p->data();
    a.master = mw ? mw->as<float>() : nullptr;
    a.grad = g->as<float>();
    a.m = m->as<float>();
    a.v = v->as<float>();
    a.n = n;
  }
  AdamWResult r;
  op.kernel(
      [&] { r = (dev == Device::CUDA ? cuda::adamw_step : cpu::adamw_step)(ps.data(), int64_t(ps.size()), cfg); });
  Napi::Object out = Napi::Object::New(env);
  out.Set("gradNorm", Napi::Number::New(env, r.grad_norm));
  out.Set("skipped", Napi::Boolean::New(env, r.skipped));
  return out;
}

void register_optim(Napi::Env env, Napi::Object exports) { export_fn(env, exports, "adamw_step", AdamW); }

}  // namespace plf
