// Bindings: rope_forward/backward and attention_forward/backward on [B, T, H, D] tensors.
#include "op.h"
#include "plf/ops.h"

namespace plf {

static const std::initializer_list<DType> kIdx = {DType::I32, DType::I64};

// rope_{forward,backward}(x [B,T,H,D], positions [B,T], rotaryDim, theta, y, x2?, y2?) — y may be x;
// x2 [B,T,H2,D] (k beside q, same dtype) is rotated by the same launch
static Napi::Value Rope(const Napi::CallbackInfo& info, const char* name, bool inverse) {
  Op op(info, name);
  TensorImpl* x = op.t(0, inverse ? "dy" : "x", kAnyFloat);
  TensorImpl* pos = op.t(1, "positions", kIdx);
  int64_t rot = op.integer(2, "rotaryDim", 0);
  double theta = op.num(3, "theta");
  TensorImpl* y = op.t(4, inverse ? "dx" : "y", kAnyFloat);
  op.dims(x, "x", 4);
  int64_t B = x->shape[0], T = x->shape[1], H = x->shape[2], D = x->shape[3];
  if (rot <= 0 || rot > D || rot % 2)
    op.fail("PLF_ARG", "rotaryDim " + std::to_string(rot) + " must be even and in (0, " + std::to_string(D) + "]");
  if (!(theta > 0)) op.fail("PLF_ARG", "theta must be > 0");
  if (pos->numel() != B * T)
    op.shape("positions " + pos->describe() + " must be [" + std::to_string(B) + "," + std::to_string(T) + "] for x " +
             x->describe());
  op.numel(y, "y", x->numel(), "the shape of x " + x->describe());
  TensorImpl* x2 = info.Length() > 5 ? op.t(5, inverse ? "dy2" : "x2", kAnyFloat, true) : nullptr;
  TensorImpl* y2 = x2 ? op.t(6, inverse ? "dx2" : "y2", kAnyFloat) : nullptr;
  int64_t H2 = 0;
  if (x2) {
    op.dims(x2, "x2", 4);
    if (x2->shape[0] != B || x2->shape[1] != T || x2->shape[3] != D)
      op.shape("x2 " + x2->describe() + " must be [" + std::to_string(B) + "," + std::to_string(T) + ",H2," +
               std::to_string(D) + "] beside x " + x->describe());
    if (x2->dtype != x->dtype)
      op.fail("PLF_DTYPE", "x2 " + x2->describe() + " must have the dtype of x " + x->describe());
    H2 = x2->shape[2];
    op.numel(y2, "y2", x2->numel(), "the shape of x2 " + x2->describe());
  }
  Device dev = op.device({x, y}, true);
  if (x2) op.device({x, x2, y2}, true);
  Indices p;
  index_arg(op, pos, "positions", 0, -1, dev, p, true);
  op.acts({x, y, x2, y2});
  PLF_DISPATCH(op, dev, rope_forward, op.a_in(x), p.ptr(dev), B, T, H, D, rot, theta, inverse, op.a_out(y), op.a_in(x2),
               H2, op.a_out(y2));
  return info.Env().Undefined();
}
static Napi::Value RopeForward(const Napi::CallbackInfo& info) { return Rope(info, "rope_forward", false); }
static Napi::Value RopeBackward(const Napi::CallbackInfo& info) { return Rope(info, "rope_backward", true); }

struct AttnShape {
  int64_t B, Tq, Tk, Tcap, Hq, Hkv, D;
};
// q [B,Tq,Hq,D]; k, v [B,Tcap,Hkv,D] with the first kvLen positions valid (kvLen defaults to Tcap)
static AttnShape attn_shape(const Op& op, const TensorImpl* q, const TensorImpl* k, const TensorImpl* v,
                            const TensorImpl* mask, bool causal, int64_t kv_len = -1) {
  op.dims(q, "q", 4);
  op.dims(k, "k", 4);
  op.dims(v, "v", 4);
  AttnShape s{q->shape[0], q->shape[1], 0, k->shape[1], q->shape[2], k->shape[2], q->shape[3]};
  s.Tk = kv_len < 0 ? s.Tcap : kv_len;
  if (k->shape != v->shape || k->shape[0] != s.B || k->shape[3] != s.D)
    op.shape("q " + q->describe() + ", k " + k->describe() + ", v " + v->describe() +
             " must be [B,Tq,Hq,D], [B,Tk,Hkv,D], [B,Tk,Hkv,D]");
  if (s.Tk > s.Tcap || s.Tk < 0 || (causal && s.Tq > s.Tk))
    op.shape("kvLen " + std::to_string(s.Tk) + " must lie between the query length " + std::to_string(s.Tq) +
             " and the cache length " + std::to_string(s.Tcap));
  if (s.Hkv == 0 || s.Hq % s.Hkv)
    op.shape("query heads (" + std::to_string(s.Hq) + ") must be a multiple of kv heads (" + std::to_string(s.Hkv) +
             ")");
  if (mask && mask->numel() != s.B * s.Tcap)
    op.shape("mask " + mask->describe() + " must be [" + std::to_string(s.B) + "," + std::to_string(s.Tcap) + "]");
  return s;
}

// optional trailing arguments: causal (default true), bias [Hq,Tq,Tk] (default none)
static bool causal_arg(const Napi::CallbackInfo& info, size_t i) {
  return !(info.Length() > i && info[i].IsBoolean()) || info[i].As<Napi::Boolean>().Value();
}
static void check_bias(const Op& op, const TensorImpl* bias, const AttnShape& s) {
  if (bias && bias->numel() != s.Hq * s.Tq * s.Tk)
    op.shape("bias " + bias->describe() + " must be [" + std::to_string(s.Hq) + "," + std::to_string(s.Tq) + "," +
             std::to_string(s.Tk) + "] (heads, queries, keys)");
}

// attention_forward(q, k, v, mask | null, scale, window, out [B,Tq,Hq,D], lse [B,Hq,Tq], kvLen?, causal?, bias?)
static Napi::Value AttnForward(const Napi::CallbackInfo& info) {
  Op op(info, "attention_forward");
  TensorImpl *q = op.t(0, "q", kAnyFloat), *k = op.t(1, "k", kAnyFloat), *v = op.t(2, "v", kAnyFloat),
             *mask = op.t(3, "mask", kIdx, true);
  float scale = float(op.num(4, "scale"));
  int64_t window = op.integer(5, "window");
  TensorImpl *out = op.t(6, "out", kAnyFloat), *lse = op.t(7, "lse", kAnyFloat);
  int64_t kv_len = info.Length() > 8 && info[8].IsNumber() ? op.integer(8, "kvLen", -1) : -1;
  bool causal = causal_arg(info, 9);
  TensorImpl* bias = info.Length() > 10 ? op.t(10, "bias", kAnyFloat, true) : nullptr;
  AttnShape s = attn_shape(op, q, k, v, mask, causal, kv_len);
  check_bias(op, bias, s);
  op.numel(out, "out", q->numel(), "the shape of q " + q->describe());
  op.numel(lse, "lse", s.B * s.Hq * s.Tq, "[B,Hq,Tq] elements");
  Device dev = op.device({q, k, v, out, lse}, true);
  if (bias) op.device({q, bias}, true);
  Indices m;
  if (mask) index_arg(op, mask, "mask", 0, 2, dev, m, true);
  // in place on CUDA where its kernel takes the activations' dtype (decoding's kernel, or
  // cuda::attention_in_place), else staged
  if (dev == Device::CUDA &&
      (cuda::attention_decode(s.Tq, s.Hq, s.Hkv, s.D, bias != nullptr) || cuda::attention_in_place(s.D, q->dtype)))
    op.acts({q, k, v, out});
  PLF_DISPATCH(op, dev, attention_forward, op.a_in(q), op.a_in(k), op.a_in(v), mask ? m.ptr(dev) : nullptr, s.B, s.Tq,
               s.Tk, s.Tcap, s.Hq, s.Hkv, s.D, scale, window, causal, op.in(bias), op.a_out(out), op.out(lse));
  return info.Env().Undefined();
}

// attention_backward(dout, q, k, v, out, lse, mask | null, scale, window, dq, dk, dv, causal?, bias?)
static Napi::Value AttnBackward(const Napi::CallbackInfo& info) {
  Op op(info, "attention_backward");
  TensorImpl *dout = op.t(0, "dout", kAnyFloat), *q = op.t(1, "q", kAnyFloat), *k = op.t(2, "k", kAnyFloat),
             *v = op.t(3, "v", kAnyFloat);
  TensorImpl *out = op.t(4, "out", kAnyFloat), *lse = op.t(5, "lse", kAnyFloat), *mask = op.t(6, "mask", kIdx, true);
  float scale = float(op.num(7, "scale"));
  int64_t window = op.integer(8, "window");
  TensorImpl *dq = op.t(9, "dq", kAnyFloat), *dk = op.t(10, "dk", kAnyFloat), *dv = op.t(11, "dv", kAnyFloat);
  bool causal = causal_arg(info, 12);
  TensorImpl* bias = info.Length() > 13 ? op.t(13, "bias", kAnyFloat, true) : nullptr;
  AttnShape s = attn_shape(op, q, k, v, mask, causal);
  check_bias(op, bias, s);
  if (causal && s.Tq != s.Tcap)
    op.shape("causal backward needs equal query and key lengths, got q " + q->describe() + " and k " + k->describe());
  op.numel(dout, "dout", q->numel(), "the shape of q");
  op.numel(out, "out", q->numel(), "the shape of q");
  op.numel(lse, "lse", s.B * s.Hq * s.Tq, "[B,Hq,T] elements");
  op.numel(dq, "dq", q->numel(), "the shape of q");
  op.numel(dk, "dk", k->numel(), "the shape of k");
  op.numel(dv, "dv", v->numel(), "the shape of v");
  Device dev = op.device({dout, q, k, v, out, lse, dq, dk, dv}, true);
  if (bias) op.device({q, bias}, true);
  Indices m;
  if (mask) index_arg(op, mask, "mask", 0, 2, dev, m, true);
  if (dev == Device::CUDA && cuda::attention_in_place(s.D, q->dtype)) op.acts({dout, q, k, v, out, dq, dk, dv});
  PLF_DISPATCH(op, dev, attention_backward, op.a_in(dout), op.a_in(q), op.a_in(k), op.a_in(v), op.a_in(out), op.in(lse),
               mask ? m.ptr(dev) : nullptr, s.B, s.Tq, s.Tk, s.Hq, s.Hkv, s.D, scale, window, causal, op.in(bias),
               op.a_inout(dq), op.a_inout(dk), op.a_inout(dv));
  return info.Env().Undefined();
}

void register_attention(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "rope_forward", RopeForward);
  export_fn(env, exports, "rope_backward", RopeBackward);
  export_fn(env, exports, "attention_forward", AttnForward);
  export_fn(env, exports, "attention_backward", AttnBackward);
}

}  // namespace plf
