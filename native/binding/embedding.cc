// Bindings: embedding_forward/backward, last_token_index, gather_rows_forward/backward.
#include "op.h"
#include "plf/ops.h"
#include "plf/graph.h"

namespace plf {

static const std::initializer_list<DType> kIdx = {DType::I32, DType::I64};

// embedding_forward(ids [..], table [V, D], out [.., D])
static Napi::Value EmbForward(const Napi::CallbackInfo& info) {
  Op op(info, "embedding_forward");
  TensorImpl *ids = op.t(0, "ids", kIdx), *table = op.t(1, "table", kAnyFloat), *out = op.t(2, "out", kAnyFloat);
  op.dims(table, "table", 2);
  int64_t V = table->shape[0], D = table->shape[1];
  op.numel(out, "out", ids->numel() * D, std::to_string(ids->numel()) + "×" + std::to_string(D) + " elements");
  Device dev = op.device({table, out}, true);
  Indices id;
  // checked on the host, except while a CUDA graph is recorded (the host must not read device ids;
  // the kernel writes a zero row for an id outside the table)
  index_arg(op, ids, "ids", 0, V, dev, id, cuda::capturing());
  op.acts({table, out}, true);  // the table and the output may differ (an f32 table, bf16 activations)
  PLF_DISPATCH(op, dev, embedding_forward, id.ptr(dev), ids->numel(), op.a_in(table), V, D, op.a_out(out));
  return info.Env().Undefined();
}

// embedding_backward(ids, dout [.., D], dtable [V, D]) — adds into dtable
static Napi::Value EmbBackward(const Napi::CallbackInfo& info) {
  Op op(info, "embedding_backward");
  TensorImpl *ids = op.t(0, "ids", kIdx), *dout = op.t(1, "dout", kAnyFloat), *dt = op.t(2, "dtable", kAnyFloat);
  op.dims(dt, "dtable", 2);
  int64_t V = dt->shape[0], D = dt->shape[1];
  op.numel(dout, "dout", ids->numel() * D, std::to_string(ids->numel()) + "×" + std::to_string(D) + " elements");
  Device dev = op.device({dout, dt}, true);
  Indices id;
  index_arg(op, ids, "ids", 0, V, dev, id);
  op.acts({dout});
  PLF_DISPATCH(op, dev, embedding_backward, id.ptr(dev), int64_t(id.host.size()), op.a_in(dout), D, op.inout(dt));
  return info.Env().Undefined();
}

// last_token_index(ids [B, T], padId, out i64 [B]): the last position whose id is not padId, as
// transformers pools sequence classification (0 when a row is all padding).
static Napi::Value LastToken(const Napi::CallbackInfo& info) {
  Op op(info, "last_token_index");
  TensorImpl* ids = op.t(0, "ids", kIdx);
  int64_t pad = op.integer(1, "padId");
  TensorImpl* out = op.t(2, "out", {DType::I64});
  op.dims(ids, "ids", 2);
  int64_t B = ids->shape[0], T = ids->shape[1];
  op.numel(out, "out", B, std::to_string(B) + " rows");
  std::vector<int64_t> id = op.indices(ids, "ids", 0, -1);  // ids and out on either device
  std::vector<int64_t> last(static_cast<size_t>(B), 0);
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++)
      if (id[size_t(b * T + t)] != pad) last[size_t(b)] = t;
  op.run([&] { mem_copy(out->device(), out->data(), Device::CPU, last.data(), last.size() * sizeof(int64_t)); });
  return info.Env().Undefined();
}

struct Gather {
  int64_t B, T, H;
  Indices idx;
};
static void gather_args(const Op& op, const TensorImpl* x, const TensorImpl* idx, Device dev, Gather& g) {
  op.dims(x, "x", 3);
  g.B = x->shape[0];
  g.T = x->shape[1];
  g.H = x->shape[2];
  op.numel(idx, "index", g.B, std::to_string(g.B) + " entries (one per row of x " + x->describe() + ")");
  index_arg(op, idx, "index", 0, g.T, dev, g.idx);
}

// gather_rows_forward(x [B,T,H], index [B], y [B,H])
static Napi::Value GatherForward(const Napi::CallbackInfo& info) {
  Op op(info, "gather_rows_forward");
  TensorImpl *x = op.t(0, "x", kAnyFloat), *idx = op.t(1, "index", kIdx), *y = op.t(2, "y", kAnyFloat);
  Device dev = op.device({x, y}, true);
  Gather g;
  gather_args(op, x, idx, dev, g);
  op.numel(y, "y", g.B * g.H, "[B,H] elements");
  op.acts({x, y});
  PLF_DISPATCH(op, dev, gather_rows_forward, op.a_in(x), g.idx.ptr(dev), g.B, g.T, g.H, op.a_out(y));
  return info.Env().Undefined();
}

// gather_rows_backward(dy [B,H], index [B], dx [B,T,H]) — dx is overwritten (zeros elsewhere)
static Napi::Value GatherBackward(const Napi::CallbackInfo& info) {
  Op op(info, "gather_rows_backward");
  TensorImpl *dy = op.t(0, "dy", kAnyFloat), *idx = op.t(1, "index", kIdx), *dx = op.t(2, "dx", kAnyFloat);
  Device dev = op.device({dy, dx}, true);
  Gather g;
  gather_args(op, dx, idx, dev, g);
  op.numel(dy, "dy", g.B * g.H, "[B,H] elements");
  op.acts({dy, dx});
  PLF_DISPATCH(op, dev, gather_rows_backward, op.a_in(dy), g.idx.ptr(dev), g.B, g.T, g.H, op.a_out(dx));
  return info.Env().Undefined();
}

void register_embedding(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "embedding_forward", EmbForward);
  export_fn(env, exports, "embedding_backward", EmbBackward);
  export_fn(env, exports, "last_token_index", LastToken);
  export_fn(env, exports, "gather_rows_forward", GatherForward);
  export_fn(env, exports, "gather_rows_backward", GatherBackward);
}

}  // namespace plf
