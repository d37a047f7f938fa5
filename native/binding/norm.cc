// Bindings: rmsnorm_* and layernorm_* over the last dimension of x.
#include "errors.h"
#include "plf/ops.h"

namespace plf {

static const std::initializer_list<DType> kF32 = {DType::F32};

struct NormShape { int64_t rows, dim; };
static NormShape norm_shape(const Op& op, const TensorImpl* x, const TensorImpl* w) {
  if (x->shape.empty()) op.shape("x must have at least one dimension");
  int64_t dim = x->shape.back();
  if (w->numel() != dim) op.shape("w " + w->describe() + " does not match the last dimension of x " + x->describe());
  return {dim ? x->numel() / dim : 0, dim};
}
static void same(const Op& op, const TensorImpl* t, const char* arg, int64_t n, const std::string& what) {
  if (t) op.numel(t, arg, n, what);
}

// rmsnorm_forward(x, w, eps, y, rstd [rows])
static Napi::Value RmsForward(const Napi::CallbackInfo& info) {
  Op op(info, "rmsnorm_forward");
  TensorImpl *x = op.t(0, "x", kF32), *w = op.t(1, "w", kF32);
  float eps = float(op.num(2, "eps"));
  TensorImpl *y = op.t(3, "y", kF32), *rstd = op.t(4, "rstd", kF32);
  NormShape s = norm_shape(op, x, w);
  same(op, y, "y", x->numel(), "the shape of x " + x->describe());
  same(op, rstd, "rstd", s.rows, std::to_string(s.rows) + " rows");
  Device dev = op.device({x, w, y, rstd}, true);
  PLF_DISPATCH(op, dev, rmsnorm_forward, x->as<float>(), w->as<float>(), s.rows, s.dim, eps, y->as<float>(), rstd->as<float>());
  return info.Env().Undefined();
}

// rmsnorm_backward(dy, x, w, rstd, dx | null, dw | null, accumulate)
static Napi::Value RmsBackward(const Napi::CallbackInfo& info) {
  Op op(info, "rmsnorm_backward");
  TensorImpl *dy = op.t(0, "dy", kF32), *x = op.t(1, "x", kF32), *w = op.t(2, "w", kF32), *rstd = op.t(3, "rstd", kF32);
  TensorImpl *dx = op.t(4, "dx", kF32, true), *dw = op.t(5, "dw", kF32, true);
  NormShape s = norm_shape(op, x, w);
  same(op, dy, "dy", x->numel(), "the shape of x " + x->describe());
  same(op, dx, "dx", x->numel(), "the shape of x " + x->describe());
  same(op, dw, "dw", s.dim, "the shape of w");
  same(op, rstd, "rstd", s.rows, std::to_string(s.rows) + " rows");
  Device dev = op.device({dy, x, w, rstd, dx, dw}, true);
  PLF_DISPATCH(op, dev, rmsnorm_backward, dy->as<float>(), x->as<float>(), w->as<float>(), rstd->as<float>(), s.rows, s.dim,
                        dx ? dx->as<float>() : nullptr, dw ? dw->as<float>() : nullptr, op.flag(6));
  return info.Env().Undefined();
}

// layernorm_forward(x, w, b | null, eps, y, mean [rows], rstd [rows])
static Napi::Value LnForward(const Napi::CallbackInfo& info) {
  Op op(info, "layernorm_forward");
  TensorImpl *x = op.t(0, "x", kF32), *w = op.t(1, "w", kF32), *b = op.t(2, "b", kF32, true);
  float eps = float(op.num(3, "eps"));
  TensorImpl *y = op.t(4, "y", kF32), *mean = op.t(5, "mean", kF32), *rstd = op.t(6, "rstd", kF32);
  NormShape s = norm_shape(op, x, w);
  same(op, b, "b", s.dim, "the shape of w");
  same(op, y, "y", x->numel(), "the shape of x " + x->describe());
  same(op, mean, "mean", s.rows, std::to_string(s.rows) + " rows");
  same(op, rstd, "rstd", s.rows, std::to_string(s.rows) + " rows");
  Device dev = op.device({x, w, b, y, mean, rstd}, true);
  PLF_DISPATCH(op, dev, layernorm_forward, x->as<float>(), w->as<float>(), b ? b->as<float>() : nullptr, s.rows, s.dim, eps,
                         y->as<float>(), mean->as<float>(), rstd->as<float>());
  return info.Env().Undefined();
}

// layernorm_backward(dy, x, w, mean, rstd, dx | null, dw | null, db | null, accumulate)
static Napi::Value LnBackward(const Napi::CallbackInfo& info) {
  Op op(info, "layernorm_backward");
  TensorImpl *dy = op.t(0, "dy", kF32), *x = op.t(1, "x", kF32), *w = op.t(2, "w", kF32);
  TensorImpl *mean = op.t(3, "mean", kF32), *rstd = op.t(4, "rstd", kF32);
  TensorImpl *dx = op.t(5, "dx", kF32, true), *dw = op.t(6, "dw", kF32, true), *db = op.t(7, "db", kF32, true);
  NormShape s = norm_shape(op, x, w);
  same(op, dy, "dy", x->numel(), "the shape of x " + x->describe());
  same(op, dx, "dx", x->numel(), "the shape of x " + x->describe());
  same(op, dw, "dw", s.dim, "the shape of w");
  same(op, db, "db", s.dim, "the shape of w");
  same(op, mean, "mean", s.rows, std::to_string(s.rows) + " rows");
  same(op, rstd, "rstd", s.rows, std::to_string(s.rows) + " rows");
  Device dev = op.device({dy, x, w, mean, rstd, dx, dw, db}, true);
  PLF_DISPATCH(op, dev, layernorm_backward, dy->as<float>(), x->as<float>(), w->as<float>(), mean->as<float>(), rstd->as<float>(),
                          s.rows, s.dim, dx ? dx->as<float>() : nullptr, dw ? dw->as<float>() : nullptr,
                          db ? db->as<float>() : nullptr, op.flag(8));
  return info.Env().Undefined();
}

void register_norm(Napi::Env env, Napi::Object exports) {
  exports.Set("rmsnorm_forward", Napi::Function::New(env, RmsForward, "rmsnorm_forward"));
  exports.Set("rmsnorm_backward", Napi::Function::New(env, RmsBackward, "rmsnorm_backward"));
  exports.Set("layernorm_forward", Napi::Function::New(env, LnForward, "layernorm_forward"));
  exports.Set("layernorm_backward", Napi::Function::New(env, LnBackward, "layernorm_backward"));
}

}  // namespace plf
