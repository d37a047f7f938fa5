// Bindings: rmsnorm_* and layernorm_* over the last dimension of x.
#include "op.h"
#include "plf/ops.h"

namespace plf {

struct NormShape {
  int64_t rows, dim;
};
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
  TensorImpl *x = op.t(0, "x", kAnyFloat), *w = op.t(1, "w", kAnyFloat);
  float eps = float(op.num(2, "eps"));
  TensorImpl *y = op.t(3, "y", kAnyFloat), *rstd = op.t(4, "rstd", kAnyFloat);
  NormShape s = norm_shape(op, x, w);
  same(op, y, "y", x->numel(), "the shape of x " + x->describe());
  same(op, rstd, "rstd", s.rows, std::to_string(s.rows) + " rows");
  Device dev = op.device({x, w, y, rstd}, true);
  op.acts({x, y});
  PLF_DISPATCH(op, dev, rmsnorm_forward, op.a_in(x), op.in(w), s.rows, s.dim, eps, op.a_out(y), op.out(rstd));
  return info.Env().Undefined();
}

// rmsnorm_backward(dy, x, w, rstd, dx | null, dw | null, accumulate)
static Napi::Value RmsBackward(const Napi::CallbackInfo& info) {
  Op op(info, "rmsnorm_backward");
  TensorImpl *dy = op.t(0, "dy", kAnyFloat), *x = op.t(1, "x", kAnyFloat), *w = op.t(2, "w", kAnyFloat),
             *rstd = op.t(3, "rstd", kAnyFloat);
  TensorImpl *dx = op.t(4, "dx", kAnyFloat, true), *dw = op.t(5, "dw", kAnyFloat, true);
  NormShape s = norm_shape(op, x, w);
  same(op, dy, "dy", x->numel(), "the shape of x " + x->describe());
  same(op, dx, "dx", x->numel(), "the shape of x " + x->describe());
  same(op, dw, "dw", s.dim, "the shape of w");
  same(op, rstd, "rstd", s.rows, std::to_string(s.rows) + " rows");
  Device dev = op.device({dy, x, w, rstd, dx, dw}, true);
  op.acts({dy, x, dx});
  PLF_DISPATCH(op, dev, rmsnorm_backward, op.a_in(dy), op.a_in(x), op.in(w), op.in(rstd), s.rows, s.dim, op.a_out(dx),
               op.inout(dw), op.flag(6));
  return info.Env().Undefined();
}

// layernorm_forward(x, w, b | null, eps, y, mean [rows], rstd [rows])
static Napi::Value LnForward(const Napi::CallbackInfo& info) {
  Op op(info, "layernorm_forward");
  TensorImpl *x = op.t(0, "x", kAnyFloat), *w = op.t(1, "w", kAnyFloat), *b = op.t(2, "b", kAnyFloat, true);
  float eps = float(op.num(3, "eps"));
  TensorImpl *y = op.t(4, "y", kAnyFloat), *mean = op.t(5, "mean", kAnyFloat), *rstd = op.t(6, "rstd", kAnyFloat);
  NormShape s = norm_shape(op, x, w);
  same(op, b, "b", s.dim, "the shape of w");
  same(op, y, "y", x->numel(), "the shape of x " + x->describe());
  same(op, mean, "mean", s.rows, std::to_string(s.rows) + " rows");
  same(op, rstd, "rstd", s.rows, std::to_string(s.rows) + " rows");
  Device dev = op.device({x, w, b, y, mean, rstd}, true);
  op.acts({x, y});
  PLF_DISPATCH(op, dev, layernorm_forward, op.a_in(x), op.in(w), op.in(b), s.rows, s.dim, eps, op.a_out(y),
               op.out(mean), op.out(rstd));
  return info.Env().Undefined();
}

// layernorm_backward(dy, x, w, mean, rstd, dx | null, dw | null, db | null, accumulate)
static Napi::Value LnBackward(const Napi::CallbackInfo& info) {
  Op op(info, "layernorm_backward");
  TensorImpl *dy = op.t(0, "dy", kAnyFloat), *x = op.t(1, "x", kAnyFloat), *w = op.t(2, "w", kAnyFloat);
  TensorImpl *mean = op.t(3, "mean", kAnyFloat), *rstd = op.t(4, "rstd", kAnyFloat);
  TensorImpl *dx = op.t(5, "dx", kAnyFloat, true), *dw = op.t(6, "dw", kAnyFloat, true),
             *db = op.t(7, "db", kAnyFloat, true);
  NormShape s = norm_shape(op, x, w);
  same(op, dy, "dy", x->numel(), "the shape of x " + x->describe());
  same(op, dx, "dx", x->numel(), "the shape of x " + x->describe());
  same(op, dw, "dw", s.dim, "the shape of w");
  same(op, db, "db", s.dim, "the shape of w");
  same(op, mean, "mean", s.rows, std::to_string(s.rows) + " rows");
  same(op, rstd, "rstd", s.rows, std::to_string(s.rows) + " rows");
  Device dev = op.device({dy, x, w, mean, rstd, dx, dw, db}, true);
  op.acts({dy, x, dx});
  PLF_DISPATCH(op, dev, layernorm_backward, op.a_in(dy), op.a_in(x), op.in(w), op.in(mean), op.in(rstd), s.rows, s.dim,
               op.a_out(dx), op.inout(dw), op.inout(db), op.flag(8));
  return info.Env().Undefined();
}

void register_norm(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "rmsnorm_forward", RmsForward);
  export_fn(env, exports, "rmsnorm_backward", RmsBackward);
  export_fn(env, exports, "layernorm_forward", LnForward);
  export_fn(env, exports, "layernorm_backward", LnBackward);
}

}  // namespace plf
