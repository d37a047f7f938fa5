// The op binding toolkit: Op checks each argument (every failure is a JS Error whose message names the
// op and the offending tensors, err.code = PLF_SHAPE / PLF_DTYPE / PLF_DEVICE / PLF_ARG / PLF_NATIVE),
// guard()/export_fn register functions so no C++ exception escapes, Indices carries index arrays.
// Staging of f16/bf16 through f32 lives in stage.cc, the profiler in profile.h/.cc.
#pragma once
#include <napi.h>
#include <initializer_list>
#include <string>
#include <vector>
#include "tensor.h"
#include "plf/act.h"
#include "profile.h"

namespace plf {

[[noreturn]] void throw_js(Napi::Env env, const char* code, const std::string& msg);

// Every exported function goes through guard(): a C++ exception that escapes the function (an
// allocation failure, a length_error, anything not already a JS error) becomes a PLF_NATIVE error
// naming the function, and a node-addon-api error without a code (a wrong JS type) gets PLF_ARG —
// nothing thrown in native code reaches std::terminate.
using Callback = Napi::Value (*)(const Napi::CallbackInfo&);
// Call inside a catch block: rethrows the exception in flight as a typed JS error.
[[noreturn]] void rethrow_typed(Napi::Env env, const char* name);
template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, const char* name, F&& f) {
  try {
    return f(info);
  } catch (...) { rethrow_typed(info.Env(), name); }
}
// exports.name = guard(f)
void export_fn(Napi::Env env, Napi::Object exports, const char* name, Callback f);

// Largest tensor the addon accepts, in elements and in bytes (2^48 B = 256 TiB, beyond any
// machine): keeps every size product below int64/size_t overflow.
constexpr int64_t kMaxElements = int64_t(1) << 48;
// A shape's element count, or -1 when a dimension is negative, above kMaxElements, or the
// product overflows it (zero-size shapes too: [2^61, 0] is refused, not 0).
int64_t checked_numel(const std::vector<int64_t>& shape);

struct Op {
  Napi::Env env;
  const char* name;
  const Napi::CallbackInfo& info;
  Op(const Napi::CallbackInfo& i, const char* n) : env(i.Env()), name(n), info(i) {}
  ~Op();
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;

  [[noreturn]] void fail(const char* code, const std::string& msg) const {
    throw_js(env, code, std::string(name) + ": " + msg);
  }
  [[noreturn]] void shape(const std::string& msg) const { fail("PLF_SHAPE", msg); }
  // Tensor argument i (named for messages); null/undefined allowed when optional.
  TensorImpl* t(size_t i, const char* arg, std::initializer_list<DType> ok, bool optional = false) const;
  double num(size_t i, const char* arg) const;
  // An integer argument in [lo, hi] (finite, no fraction), e.g. a length, an index or a seed.
  int64_t integer(size_t i, const char* arg, int64_t lo = -(int64_t(1) << 53), int64_t hi = int64_t(1) << 53) const;
  bool flag(size_t i) const;
  void dims(const TensorImpl* t, const char* arg, size_t nd) const;
  void numel(const TensorImpl* t, const char* arg, int64_t n, const std::string& expect) const;
  // All given tensors on one device; ops with no CUDA kernel yet say so.
  Device device(std::initializer_list<const TensorImpl*> ts, bool cuda_ok = false) const;
  // Index tensors (i32/i64, either device) as host int64, each checked to lie in [lo, hi) unless lo > hi.
  std::vector<int64_t> indices(const TensorImpl* t, const char* arg, int64_t lo, int64_t hi) const;
  // Runs native work; a C++ exception (a CUDA error, an allocation failure) becomes a PLF_NATIVE error.
  template <typename F>
  void run(F&& f) const {
    try {
      f();
    } catch (const Napi::Error&) { throw; } catch (const std::exception& e) {
      fail("PLF_NATIVE", e.what());
    }
  }
  // run() for the op's kernel itself (what the profiler times); staged outputs are rounded back after it
  template <typename F>
  void kernel(F&& f) const {
    auto body = [&] {
      f();
      write_back();
    };
    if (!g_profiling) return run(body);
    ProfileScope scope(name);
    run(body);
  }

  // Float tensors of any dtype (f32, f16, bf16) for the kernels, which compute in f32: an f32
  // tensor is used in place; another goes through an f32 copy on its device, converted in (in,
  // inout) and rounded back to its dtype after the kernel (out, inout). Null stays null. Call
  // them inside kernel() (PLF_DISPATCH's arguments are).
  const float* in(const TensorImpl* t) const { return stage(const_cast<TensorImpl*>(t), true, false); }
  float* out(TensorImpl* t) const { return stage(t, false, true); }
  float* inout(TensorImpl* t) const { return stage(t, true, true); }

  // Activation arguments of the ops whose CUDA kernels read and write 16-bit values in place (their
  // list names them ActIn / ActOut, see plf/act.h): staged f32 for the CPU reference as in(), the
  // tensor itself for CUDA — when acts() found the op's activations all of one dtype; otherwise
  // CUDA gets staged f32 copies too (e.g. a bf16 x with an f32 y).
  struct ActArg {
    const Op* op;
    TensorImpl* t;
    bool read, write;
    operator const float*() const { return op->stage(t, read, write); }  // NOLINT: the CPU side
    operator float*() const { return op->stage(t, read, write); }        // NOLINT
    operator CAct() const;                                               // NOLINT: the CUDA side
    operator Act() const;                                                // NOLINT
  };
  ActArg a_in(const TensorImpl* t) const { return {this, const_cast<TensorImpl*>(t), true, false}; }
  ActArg a_out(TensorImpl* t) const { return {this, t, false, true}; }
  ActArg a_inout(TensorImpl* t) const { return {this, t, true, true}; }
  // The op's activation tensors (null skipped): in place on CUDA when they share one dtype, or
  // always when the op's CUDA kernel takes each in its own dtype (mixed).
  void acts(std::initializer_list<const TensorImpl*> ts, bool mixed = false) const;

 private:
  mutable bool in_place_ = false;
  mutable DType act_dtype_ = DType::F32;
  mutable bool mixed_ = false;
  struct Staged {
    TensorImpl* t;
    float* f32;
    size_t n;
    bool write;
  };
  mutable std::vector<Staged> staged_;
  float* stage(TensorImpl* t, bool read, bool write) const;
  void write_back() const;
};

// f32, f16 or bf16: what activation arguments accept (they are staged through f32, see Op::in)
extern const std::initializer_list<DType> kAnyFloat;

// Index arrays for a kernel on either device: range-checked on the host, then (CUDA) uploaded as int64.
struct Indices {
  std::vector<int64_t> host;
  int64_t* device = nullptr;          // an uploaded copy (owned)
  const int64_t* borrowed = nullptr;  // or the argument's own device memory
  Indices() = default;
  Indices(const Indices&) = delete;
  Indices& operator=(const Indices&) = delete;
  ~Indices();
  const int64_t* ptr(Device d) const { return d == Device::CUDA ? (borrowed ? borrowed : device) : host.data(); }
};
// `values_only`: the kernels only compare the values (a mask with 0, positions in sin/cos), never
// address memory with them, so an i64 tensor already on the GPU is used in place, unchecked —
// no download, no device synchronization per op. Ids and targets (addresses) are checked, except
// embedding ids while a CUDA graph is recorded (the host cannot read them; the kernel zero-fills a
// row whose id is outside the table).
void index_arg(const Op& op, const TensorImpl* t, const char* arg, int64_t lo, int64_t hi, Device d, Indices& out,
               bool values_only = false);

// cpu::fn(args) or cuda::fn(args) by device, errors as JS errors
#define PLF_DISPATCH(op, dev, fn, ...) \
  (op).kernel([&] {                    \
    if ((dev) == ::plf::Device::CUDA)  \
      ::plf::cuda::fn(__VA_ARGS__);    \
    else                               \
      ::plf::cpu::fn(__VA_ARGS__);     \
  })

}  // namespace plf
