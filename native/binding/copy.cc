// Bindings: slice_cols_forward / slice_cols_backward over the last dimension; cache_write.
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

// cache_write(k, v [B,T,H,D], at i64 [1], kc, vc [B,cap,H,D]): kc[:, at:at+T] = k, vc[:, at:at+T] = v,
// in one launch. at lives on the caches' device and is read there (on CUDA never by the host, so a
// CUDA graph can record the call); on the CPU it is range-checked, on CUDA positions outside the
// cache are skipped.
static Napi::Value CacheWrite(const Napi::CallbackInfo& info) {
  Op op(info, "cache_write");
  TensorImpl *k = op.t(0, "k", kAnyFloat), *v = op.t(1, "v", kAnyFloat), *at = op.t(2, "at", {DType::I64}),
             *kc = op.t(3, "kc", kAnyFloat), *vc = op.t(4, "vc", kAnyFloat);
  op.dims(k, "k", 4);
  op.dims(kc, "kc", 4);
  int64_t B = k->shape[0], T = k->shape[1], cap = kc->shape[1], row = k->shape[2] * k->shape[3];
  if (v->shape != k->shape || vc->shape != kc->shape || kc->shape[0] != B || kc->shape[2] != k->shape[2] ||
      kc->shape[3] != k->shape[3])
    op.shape("k " + k->describe() + ", v " + v->describe() + " and caches " + kc->describe() + ", " + vc->describe() +
             " must be [B,T,H,D] twice and [B,cap,H,D] twice");
  if (at->numel() != 1) op.shape("at " + at->describe() + " must hold one position");
  Device dev = op.device({k, v, kc, vc, at}, true);
  if (dev == Device::CPU) {
    int64_t a = static_cast<const int64_t*>(at->data())[0];
    if (a < 0 || a + T > cap)
      op.fail("PLF_ARG", "at = " + std::to_string(a) + " with " + std::to_string(T) +
                             " new positions does not fit cache " + kc->describe());
  }
  op.acts({k, v, kc, vc});
  PLF_DISPATCH(op, dev, cache_write, op.a_in(k), op.a_in(v), B, T, cap, row, static_cast<const int64_t*>(at->data()),
               op.a_inout(kc), op.a_inout(vc));
  return info.Env().Undefined();
}

void register_copy(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "cache_write", CacheWrite);
  export_fn(env, exports, "slice_cols_forward", SliceForward);
  export_fn(env, exports, "slice_cols_backward", SliceBackward);
}

}  // namespace plf
