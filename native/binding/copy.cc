// Bindings: slice_cols_forward / slice_cols_backward over the last dimension.
#include "op.h"
#include "plf/ops.h"

namespace plf {

struct Slice {
  int64_t R, C, start, L;
};
static Slice slice_args(const Op& op, const TensorImpl* full, const TensorImpl* part, size_t istart) {
  if (full->shape.empty() || part->shape.empty()) op.shape("tensors must have at least one dimension");
  Slice s{0, full->shape.back(), op.integer(istart, "start", 0), part->shape.back()};
  s.R = s.C ? full->numel() / s.C : 0;
  if (s.start < 0 || s.start + s.L > s.C)
    op.shape("columns [" + std::to_string(s.start) + ", " + std::to_string(s.start + s.L) + ") are outside " +
             full->describe());
  if (part->numel() != s.R * s.L) op.shape(part->describe() + " does not have the rows of " + full->describe());
  return s;
}

// slice_cols_forward(x [.., C], start, y [.., L])
static Napi::Value SliceForward(const Napi::CallbackInfo& info) {
  Op op(info, "slice_cols_forward");
  TensorImpl *x = op.t(0, "x", kAnyFloat), *y = op.t(2, "y", kAnyFloat);
  Slice s = slice_args(op, x, y, 1);
  Device dev = op.device({x, y}, true);
  op.acts({x, y});
  PLF_DISPATCH(op, dev, slice_cols_forward, op.a_in(x), s.R, s.C, s.start, s.L, op.a_out(y));
  return info.Env().Undefined();
}

// slice_cols_backward(dy [.., L], start, dx [.., C]) — adds into dx
static Napi::Value SliceBackward(const Napi::CallbackInfo& info) {
  Op op(info, "slice_cols_backward");
  TensorImpl *dy = op.t(0, "dy", kAnyFloat), *dx = op.t(2, "dx", kAnyFloat);
  Slice s = slice_args(op, dx, dy, 1);
  Device dev = op.device({dy, dx}, true);
  op.acts({dy, dx});
  PLF_DISPATCH(op, dev, slice_cols_backward, op.a_in(dy), s.R, s.C, s.start, s.L, op.a_inout(dx));
  return info.Env().Undefined();
}

void register_copy(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "slice_cols_forward", SliceForward);
  export_fn(env, exports, "slice_cols_backward", SliceBackward);
}

}  // namespace plf
