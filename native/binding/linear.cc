// Bindings: linear_forward/backward, lora_linear_forward/backward, nf4_gemv_multi/swiglu. x may have any leading
// dimensions; it is treated as [M, K] with K = the last dimension.
#include "op.h"
#include "weights.h"
#include "plf/cublaslt.h"

namespace plf {

struct Rows {
  int64_t M, K;
};
static Rows rows_of(const Op& op, const TensorImpl* x, const char* arg) {
  if (x->shape.empty()) op.shape(std::string(arg) + " must have at least one dimension");
  int64_t K = x->shape.back();
  return {K ? x->numel() / K : 0, K};
}

static void check_w(const Op& op, const WeightView& w, const TensorImpl* x, int64_t K) {
  if (w.cols != K)
    op.shape("x " + x->describe() + " has " + std::to_string(K) + " features but w is [" + std::to_string(w.rows) +
             "," + std::to_string(w.cols) + "]");
}

static void check_out(const Op& op, const TensorImpl* t, const char* arg, int64_t n, const std::string& what) {
  if (t) op.numel(t, arg, n, what);
}

// the activations' device must be the weight's
static Device same_device(const Op& op, Device act, Device w) {
  if (act != w)
    op.fail("PLF_DEVICE", std::string("w is on ") + (w == Device::CUDA ? "cuda" : "the CPU") +
                              " but the activations are on " + (act == Device::CUDA ? "cuda" : "the CPU"));
  return act;
}

// linear_forward(x [.., K], w [N, K], bias [N] | null, y [.., N], accumulate?) — accumulate: y += x·Wᵀ + bias
static Napi::Value LinearForward(const Napi::CallbackInfo& info) {
  Op op(info, "linear_forward");
  TensorImpl* x = op.t(0, "x", kAnyFloat);
  Device wd;
  WeightView w = weight_arg(op, 1, "w", &wd);
  TensorImpl* bias = op.t(2, "bias", kAnyFloat, true);
  TensorImpl* y = op.t(3, "y", kAnyFloat);
  Rows r = rows_of(op, x, "x");
  check_w(op, w, x, r.K);
  check_out(op, bias, "bias", w.rows, "[" + std::to_string(w.rows) + "] elements");
  check_out(op, y, "y", r.M * w.rows, "[" + std::to_string(r.M) + "," + std::to_string(w.rows) + "] elements");
  bool acc = op.flag(4);
  Device dev = same_device(op, op.device({x, bias, y}, true), wd);
  op.acts({x, y});
  PLF_DISPATCH(op, dev, linear_forward, op.a_in(x), r.M, r.K, w, op.in(bias), acc ? op.a_inout(y) : op.a_out(y), acc);
  return info.Env().Undefined();
}

// linear_backward(dy, x, w, dx | null, dw | null, dbias | null, accumulate)
static Napi::Value LinearBackward(const Napi::CallbackInfo& info) {
  Op op(info, "linear_backward");
  TensorImpl* dy = op.t(0, "dy", kAnyFloat);
  TensorImpl* x = op.t(1, "x", kAnyFloat);
  Device wd;
  WeightView w = weight_arg(op, 2, "w", &wd);
  TensorImpl* dx = op.t(3, "dx", kAnyFloat, true);
  TensorImpl* dw = op.t(4, "dw", kAnyFloat, true);
  TensorImpl* db = op.t(5, "dbias", kAnyFloat, true);
  bool acc = op.flag(6);
  Rows r = rows_of(op, x, "x");
  check_w(op, w, x, r.K);
  check_out(op, dy, "dy", r.M * w.rows, std::to_string(r.M) + "×" + std::to_string(w.rows) + " elements");
  check_out(op, dx, "dx", r.M * r.K, "the shape of x " + x->describe());
  check_out(op, dw, "dw", w.rows * w.cols, "the shape of w");
  check_out(op, db, "dbias", w.rows, std::to_string(w.rows) + " elements");
  if (dw && w.dtype != DType::F32)
    op.fail("PLF_DTYPE", "dw needs an f32 weight (frozen NF4/bf16/f16 weights have no grad)");
  Device dev = same_device(op, op.device({dy, x, dx, dw, db}, true), wd);
  op.acts({dy, x, dx});
  PLF_DISPATCH(op, dev, linear_backward, op.a_in(dy), op.a_in(x), r.M, r.K, w, op.a_out(dx), op.inout(dw), op.inout(db),
               acc);
  return info.Env().Undefined();
}

struct Lora {
  TensorImpl *a, *b;
  int64_t r;
  float scale, p;
  uint64_t seed;
};
static Lora lora_args(const Op& op, size_t ia, const WeightView& w) {
  Lora l;
  l.a = op.t(ia, "A", kAnyFloat);
  l.b = op.t(ia + 1, "B", kAnyFloat);
  op.dims(l.a, "A", 2);
  op.dims(l.b, "B", 2);
  l.r = l.a->shape[0];
  if (l.a->shape[1] != w.cols || l.b->shape[0] != w.rows || l.b->shape[1] != l.r)
    op.shape("A " + l.a->describe() + " and B " + l.b->describe() + " do not fit w [" + std::to_string(w.rows) + "," +
             std::to_string(w.cols) + "] (expected A [r," + std::to_string(w.cols) + "], B [" + std::to_string(w.rows) +
             ",r])");
  l.scale = float(op.num(ia + 2, "scale"));
  l.p = float(op.num(ia + 3, "dropout"));
  if (!(l.p >= 0.0f && l.p < 1.0f)) op.fail("PLF_ARG", "dropout must be in [0, 1)");
  l.seed = uint64_t(op.integer(ia + 4, "seed", 0));
  return l;
}

// A (A [r, K] | null, B [N, r], scale) adapter of a decoding GEMV at args ia…ia+2: f32 on CUDA, or
// none when A is null
static cuda::GemvLora gemv_lora(const Op& op, size_t ia, const WeightView& w, const char* wname) {
  TensorImpl* a = op.t(ia, "A", {DType::F32}, true);
  if (!a) return {};
  TensorImpl* b = op.t(ia + 1, "B", {DType::F32});
  op.dims(a, "A", 2);
  op.dims(b, "B", 2);
  if (a->shape[1] != w.cols || b->shape[0] != w.rows || b->shape[1] != a->shape[0])
    op.shape(std::string(wname) + "'s adapter: A " + a->describe() + " and B " + b->describe() + " do not fit w [" +
             std::to_string(w.rows) + "," + std::to_string(w.cols) + "]");
  if (op.device({a, b}, true) != Device::CUDA) op.fail("PLF_DEVICE", std::string(wname) + "'s adapter must be on CUDA");
  return cuda::GemvLora{a->as<float>(), b->as<float>(), nullptr, a->shape[0], float(op.num(ia + 2, "scale"))};
}

// the decoding GEMVs' rows: 1 to kNF4GemvRows (a batch of decoding sequences)
static void check_gemv_rows(const Op& op, const TensorImpl* x, const Rows& r) {
  if (r.M < 1 || r.M > cuda::kNF4GemvRows)
    op.shape("x " + x->describe() + " must have 1 to " + std::to_string(cuda::kNF4GemvRows) + " rows");
}
static std::string rows_desc(const Rows& r, int64_t n) {
  return "[" + std::to_string(r.M) + "," + std::to_string(n) + "] elements";
}

// nf4_gemv_multi(x [M, K] (M <= 8), accumulate, then 2 or 3 of (w, bias | null, y, A | null, B | null, scale)):
// decoding's GEMVs over one x in one launch (q/k/v, gate/up), each with its LoRA adapter if A is
// given (y [M, N] = x·Wᵀ + bias + scale·(x·Aᵀ)·Bᵀ) — CUDA, 1 to 8 rows, NF4 weights meeting the GEMV's conditions,
// y of x's dtype; anything else is refused (lib/ops runs the linears one by one)
static Napi::Value Nf4GemvMulti(const Napi::CallbackInfo& info) {
  Op op(info, "nf4_gemv_multi");
  TensorImpl* x = op.t(0, "x", kAnyFloat);
  bool acc = op.flag(1);
  if (info.Length() < 14 || (info.Length() - 2) % 6)
    op.fail("PLF_ARG", "takes x, accumulate and 2 or 3 (weight, bias, y, A, B, scale) groups, got " +
                           std::to_string(info.Length()) + " arguments");
  int n = int((info.Length() - 2) / 6);
  Rows r = rows_of(op, x, "x");
  check_gemv_rows(op, x, r);
  NF4View ws[3];
  int64_t Ns[3];
  const float* bs[3] = {nullptr, nullptr, nullptr};
  void* ys[3] = {nullptr, nullptr, nullptr};
  cuda::GemvLora ls[3];
  static const char* wn[3] = {"w1", "w2", "w3"};
  for (int i = 0; i < n; i++) {
    Device wd;
    WeightView w = weight_arg(op, size_t(2 + 6 * i), wn[i], &wd);
    TensorImpl* b = op.t(size_t(3 + 6 * i), "bias", {DType::F32}, true);
    TensorImpl* y = op.t(size_t(4 + 6 * i), "y", kAnyFloat);
    check_w(op, w, x, r.K);
    if (w.dtype != DType::U8) op.fail("PLF_DTYPE", std::string(wn[i]) + " must be an NF4 weight");
    check_out(op, b, "bias", w.rows, "[" + std::to_string(w.rows) + "] elements");
    check_out(op, y, "y", r.M * w.rows, rows_desc(r, w.rows));
    if (y->dtype != x->dtype) op.fail("PLF_DTYPE", "y " + y->describe() + " must have the dtype of x " + x->describe());
    Device dev = same_device(op, op.device({x, b, y}, true), wd);
    if (dev != Device::CUDA) op.fail("PLF_DEVICE", "runs on CUDA only (on the CPU the linears run one by one)");
    if (!cuda::nf4_gemv_ok(w.nf4, r.K, x->data()))
      op.fail("PLF_ARG", std::string(wn[i]) + " does not meet the NF4 GEMV's conditions (blocksize, alignment)");
    ls[i] = gemv_lora(op, size_t(5 + 6 * i), w, wn[i]);
    ws[i] = w.nf4;
    Ns[i] = w.rows;
    bs[i] = b ? b->as<float>() : nullptr;
    ys[i] = y->data();
  }
  op.run([&] { cuda::nf4_gemv_multi({x->data(), x->dtype}, ws, Ns, bs, ys, n, r.K, acc, ls, r.M); });
  return info.Env().Undefined();
}

// nf4_gemv_swiglu(x [M, K] (M <= 8), wGate, wUp, h [M, N][, Ag | null, Bg, sg, Au | null, Bu, su]): h =
// silu(x·Wgᵀ)·(x·Wuᵀ) in one launch, each product with its LoRA adapter if given — CUDA, 1 to 8 rows, NF4 weights of
// one shape meeting the GEMV's conditions, h of x's dtype; anything else is refused
static Napi::Value Nf4GemvSwiglu(const Napi::CallbackInfo& info) {
  Op op(info, "nf4_gemv_swiglu");
  TensorImpl* x = op.t(0, "x", kAnyFloat);
  Device gd, ud;
  WeightView g = weight_arg(op, 1, "wGate", &gd), u = weight_arg(op, 2, "wUp", &ud);
  TensorImpl* h = op.t(3, "h", kAnyFloat);
  Rows r = rows_of(op, x, "x");
  check_gemv_rows(op, x, r);
  check_w(op, g, x, r.K);
  check_w(op, u, x, r.K);
  if (g.dtype != DType::U8 || u.dtype != DType::U8) op.fail("PLF_DTYPE", "wGate and wUp must be NF4 weights");
  if (g.rows != u.rows) op.shape("wGate and wUp must have the same rows");
  check_out(op, h, "h", r.M * g.rows, rows_desc(r, g.rows));
  if (h->dtype != x->dtype) op.fail("PLF_DTYPE", "h " + h->describe() + " must have the dtype of x " + x->describe());
  Device dev = same_device(op, same_device(op, op.device({x, h}, true), gd), ud);
  if (dev != Device::CUDA) op.fail("PLF_DEVICE", "runs on CUDA only (on the CPU the linears and SwiGLU run apart)");
  if (!cuda::nf4_gemv_ok(g.nf4, r.K, x->data()) || !cuda::nf4_gemv_ok(u.nf4, r.K, x->data()))
    op.fail("PLF_ARG", "the weights do not meet the NF4 GEMV's conditions (blocksize, alignment)");
  if (info.Length() != 4 && info.Length() != 10)
    op.fail("PLF_ARG", "takes x, wGate, wUp, h and optionally (A, B, scale) for each weight, got " +
                           std::to_string(info.Length()) + " arguments");
  cuda::GemvLora lg, lu;
  if (info.Length() == 10) {
    lg = gemv_lora(op, 4, g, "wGate");
    lu = gemv_lora(op, 7, u, "wUp");
  }
  op.run([&] {
    cuda::nf4_gemv_swiglu({x->data(), x->dtype}, g.nf4, u.nf4, g.rows, r.K, {h->data(), h->dtype}, lg, lu, r.M);
  });
  return info.Env().Undefined();
}

// lora_linear_forward(x, w, bias | null, A [r,K], B [N,r], scale, dropout, seed, y, xa [.., r], accumulate?)
static Napi::Value LoraForward(const Napi::CallbackInfo& info) {
  Op op(info, "lora_linear_forward");
  TensorImpl* x = op.t(0, "x", kAnyFloat);
  Device wd;
  WeightView w = weight_arg(op, 1, "w", &wd);
  TensorImpl* bias = op.t(2, "bias", kAnyFloat, true);
  Lora l = lora_args(op, 3, w);
  TensorImpl* y = op.t(8, "y", kAnyFloat);
  TensorImpl* xa = op.t(9, "xa", kAnyFloat);
  Rows r = rows_of(op, x, "x");
  check_w(op, w, x, r.K);
  check_out(op, bias, "bias", w.rows, std::to_string(w.rows) + " elements");
  check_out(op, y, "y", r.M * w.rows, std::to_string(r.M) + "×" + std::to_string(w.rows) + " elements");
  check_out(op, xa, "xa", r.M * l.r, std::to_string(r.M) + "×" + std::to_string(l.r) + " elements");
  Device dev = same_device(op, op.device({x, bias, l.a, l.b, y, xa}, true), wd);
  op.acts({x, y});
  bool acc = op.flag(10);
  PLF_DISPATCH(op, dev, lora_linear_forward, op.a_in(x), r.M, r.K, w, op.in(bias), op.in(l.a), op.in(l.b), l.r, l.scale,
               l.p, l.seed, acc ? op.a_inout(y) : op.a_out(y), op.out(xa), acc);
  return info.Env().Undefined();
}

// lora_linear_backward(dy, x, w, A, B, scale, dropout, seed, xa, dx | null, dA | null, dB | null, accumulate)
static Napi::Value LoraBackward(const Napi::CallbackInfo& info) {
  Op op(info, "lora_linear_backward");
  TensorImpl* dy = op.t(0, "dy", kAnyFloat);
  TensorImpl* x = op.t(1, "x", kAnyFloat);
  Device wd;
  WeightView w = weight_arg(op, 2, "w", &wd);
  Lora l = lora_args(op, 3, w);
  TensorImpl* xa = op.t(8, "xa", kAnyFloat);
  TensorImpl* dx = op.t(9, "dx", kAnyFloat, true);
  TensorImpl* da = op.t(10, "dA", kAnyFloat, true);
  TensorImpl* db = op.t(11, "dB", kAnyFloat, true);
  bool acc = op.flag(12);
  Rows r = rows_of(op, x, "x");
  check_w(op, w, x, r.K);
  check_out(op, dy, "dy", r.M * w.rows, std::to_string(r.M) + "×" + std::to_string(w.rows) + " elements");
  check_out(op, xa, "xa", r.M * l.r, std::to_string(r.M) + "×" + std::to_string(l.r) + " elements");
  check_out(op, dx, "dx", r.M * r.K, "the shape of x");
  check_out(op, da, "dA", l.r * r.K, "the shape of A");
  check_out(op, db, "dB", w.rows * l.r, "the shape of B");
  Device dev = same_device(op, op.device({dy, x, l.a, l.b, xa, dx, da, db}, true), wd);
  op.acts({dy, x, dx});
  PLF_DISPATCH(op, dev, lora_linear_backward, op.a_in(dy), op.a_in(x), r.M, r.K, w, op.in(l.a), op.in(l.b), l.r,
               l.scale, l.p, l.seed, op.in(xa), op.a_out(dx), op.inout(da), op.inout(db), acc);
  return info.Env().Undefined();
}

// fma_peak() -> measured GFLOP/s of independent 256-bit FMAs on all threads
static Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cpu::fma_peak_gflops(256));
}

// set_matmul_precision('highest' | 'bf16' | 'f16'): the CUDA matmuls' operand precision (see linear.h)
static Napi::Value SetPrecision(const Napi::CallbackInfo& info) {
  Op op(info, "set_matmul_precision");
  std::string p = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (p != "highest" && p != "bf16" && p != "f16")
    op.fail("PLF_ARG", "precision must be 'highest', 'bf16' or 'f16', got '" + p + "'");
  cuda::set_matmul_precision(p == "bf16"  ? cuda::MatmulPrecision::BF16
                             : p == "f16" ? cuda::MatmulPrecision::F16
                                          : cuda::MatmulPrecision::Highest);
  return info.Env().Undefined();
}
static Napi::Value GetPrecision(const Napi::CallbackInfo& info) {
  cuda::MatmulPrecision p = cuda::matmul_precision();
  return Napi::String::New(info.Env(), p == cuda::MatmulPrecision::BF16  ? "bf16"
                                       : p == cuda::MatmulPrecision::F16 ? "f16"
                                                                         : "highest");
}

// use_cublaslt(on) -> whether the bf16 matmuls now run on cuBLASLt (false when it is absent)
static Napi::Value UseCublasLt(const Napi::CallbackInfo& info) {
  Op op(info, "use_cublaslt");
  if (info.Length() < 1 || !info[0].IsBoolean()) op.fail("PLF_ARG", "expects one boolean");
  return Napi::Boolean::New(info.Env(), cuda::lt::set_enabled(info[0].As<Napi::Boolean>().Value()));
}

void register_linear(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "use_cublaslt", UseCublasLt);
  export_fn(env, exports, "set_matmul_precision", SetPrecision);
  export_fn(env, exports, "matmul_precision", GetPrecision);
  export_fn(env, exports, "linear_forward", LinearForward);
  export_fn(env, exports, "nf4_gemv_multi", Nf4GemvMulti);
  export_fn(env, exports, "nf4_gemv_swiglu", Nf4GemvSwiglu);
  export_fn(env, exports, "linear_backward", LinearBackward);
  export_fn(env, exports, "lora_linear_forward", LoraForward);
  export_fn(env, exports, "lora_linear_backward", LoraBackward);
  export_fn(env, exports, "fma_peak", FmaPeak);
}

}  // namespace plf
