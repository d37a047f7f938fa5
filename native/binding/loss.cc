// Bindings: cross_entropy_* (ignore index) and bce_logits_* (mean reduction).
#include "op.h"
#include "plf/ops.h"

namespace plf {

static const std::initializer_list<DType> kIdx = {DType::I32, DType::I64};

struct CE {
  TensorImpl *logits, *targets;
  int64_t rows, vocab, ignore;
  Indices t;
  Device dev;
};
static void ce_args(const Op& op, CE& c) {
  c.logits = op.t(0, "logits", kAnyFloat);
  c.targets = op.t(1, "targets", kIdx);
  c.ignore = op.integer(2, "ignoreIndex");
  if (c.logits->shape.empty()) op.shape("logits must have at least one dimension");
  c.vocab = c.logits->shape.back();
  c.rows = c.vocab ? c.logits->numel() / c.vocab : 0;
  if (c.targets->numel() != c.rows)
    op.shape("targets " + c.targets->describe() + " must have one entry per row of logits " + c.logits->describe());
  c.dev = op.device({c.logits}, true);
  index_arg(op, c.targets, "targets", 0, -1, c.dev, c.t);  // range-checked below (the ignore index is allowed)
  const std::vector<int64_t>& t = c.t.host;
  for (size_t i = 0; i < t.size(); i++)
    if (t[i] != c.ignore && (t[i] < 0 || t[i] >= c.vocab))
      op.fail("PLF_ARG", "targets[" + std::to_string(i) + "] = " + std::to_string(t[i]) + " is outside [0, " +
                             std::to_string(c.vocab) + ") and is not the ignore index");
}

// cross_entropy_forward(logits [.., V], targets [..], ignoreIndex) -> {loss, count}
static Napi::Value CeForward(const Napi::CallbackInfo& info) {
  Op op(info, "cross_entropy_forward");
  CE c;
  ce_args(op, c);
  int64_t count = 0;
  double loss = 0.0;
  op.acts({c.logits});
  op.kernel([&] {
    if (c.dev == Device::CUDA)
      loss = cuda::cross_entropy_forward(op.a_in(c.logits), c.t.ptr(c.dev), c.rows, c.vocab, c.ignore, &count);
    else
      loss = cpu::cross_entropy_forward(op.a_in(c.logits), c.t.ptr(c.dev), c.rows, c.vocab, c.ignore, &count);
  });
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("loss", loss);
  r.Set("count", double(count));
  return r;
}

// cross_entropy_backward(logits, targets, ignoreIndex, dloss, dlogits)
static Napi::Value CeBackward(const Napi::CallbackInfo& info) {
  Op op(info, "cross_entropy_backward");
  CE c;
  ce_args(op, c);
  float dloss = float(op.num(3, "dloss"));
  TensorImpl* d = op.t(4, "dlogits", kAnyFloat);
  op.numel(d, "dlogits", c.logits->numel(), "the shape of logits " + c.logits->describe());
  op.device({c.logits, d}, true);
  op.acts({c.logits, d});
  PLF_DISPATCH(op, c.dev, cross_entropy_backward, op.a_in(c.logits), c.t.ptr(c.dev), c.rows, c.vocab, c.ignore, dloss,
               op.a_inout(d));
  return info.Env().Undefined();
}

// bce_logits_forward(logits, labels) -> loss
static Napi::Value BceForward(const Napi::CallbackInfo& info) {
  Op op(info, "bce_logits_forward");
  TensorImpl *x = op.t(0, "logits", kAnyFloat), *y = op.t(1, "labels", kAnyFloat);
  op.numel(y, "labels", x->numel(), "the shape of logits " + x->describe());
  if (x->numel() == 0) op.shape("logits is empty");
  Device dev = op.device({x, y}, true);
  double loss = 0.0;
  op.kernel([&] {
    loss = (dev == Device::CUDA ? cuda::bce_logits_forward : cpu::bce_logits_forward)(op.in(x), op.in(y), x->numel());
  });
  return Napi::Number::New(info.Env(), loss);
}

// bce_logits_backward(logits, labels, dloss, dlogits)
static Napi::Value BceBackward(const Napi::CallbackInfo& info) {
  Op op(info, "bce_logits_backward");
  TensorImpl *x = op.t(0, "logits", kAnyFloat), *y = op.t(1, "labels", kAnyFloat);
  float dloss = float(op.num(2, "dloss"));
  TensorImpl* dx = op.t(3, "dlogits", kAnyFloat);
  op.numel(y, "labels", x->numel(), "the shape of logits " + x->describe());
  op.numel(dx, "dlogits", x->numel(), "the shape of logits " + x->describe());
  Device dev = op.device({x, y, dx}, true);
  PLF_DISPATCH(op, dev, bce_logits_backward, op.in(x), op.in(y), x->numel(), dloss, op.inout(dx));
  return info.Env().Undefined();
}

// argmax_rows(x [rows, vocab], out i64 [rows]): the first maximum per row, on x's device (decoding
// picks on the GPU and downloads one id per row, not the row's logits)
static Napi::Value ArgmaxRows(const Napi::CallbackInfo& info) {
  Op op(info, "argmax_rows");
  TensorImpl *x = op.t(0, "x", kAnyFloat), *out = op.t(1, "out", {DType::I64});
  if (x->shape.empty()) op.shape("x " + x->describe() + " needs a last dimension (the vocabulary)");
  int64_t V = x->shape.back(), rows = V ? x->numel() / V : 0;
  if (V == 0) op.shape("x " + x->describe() + " has an empty vocabulary");
  op.numel(out, "out", rows, "one id per row of x " + x->describe());
  Device dev = op.device({x, out}, true);
  op.acts({x});
  PLF_DISPATCH(op, dev, argmax_rows, op.a_in(x), rows, V, static_cast<int64_t*>(out->data()));
  return info.Env().Undefined();
}

void register_loss(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "argmax_rows", ArgmaxRows);
  export_fn(env, exports, "cross_entropy_forward", CeForward);
  export_fn(env, exports, "cross_entropy_backward", CeBackward);
  export_fn(env, exports, "bce_logits_forward", BceForward);
  export_fn(env, exports, "bce_logits_backward", BceBackward);
}

}  // namespace plf
