// Argument checking for op bindings: every failure is a JS Error whose message names the op and
// the offending tensors, with err.code = PLF_SHAPE / PLF_DTYPE / PLF_DEVICE / PLF_ARG / PLF_NATIVE.
#pragma once
#include <napi.h>
#include <initializer_list>
#include <string>
#include <vector>
#include "tensor.h"

namespace plf {

[[noreturn]] void throw_js(Napi::Env env, const char* code, const std::string& msg);

struct Op {
  Napi::Env env;
  const char* name;
  const Napi::CallbackInfo& info;
  Op(const Napi::CallbackInfo& i, const char* n) : env(i.Env()), name(n), info(i) {}

  [[noreturn]] void fail(const char* code, const std::string& msg) const {
    throw_js(env, code, std::string(name) + ": " + msg);
  }
  [[noreturn]] void shape(const std::string& msg) const { fail("PLF_SHAPE", msg); }
  // Tensor argument i (named for messages); null/undefined allowed when optional.
  TensorImpl* t(size_t i, const char* arg, std::initializer_list<DType> ok, bool optional = false) const;
  double num(size_t i, const char* arg) const;
  bool flag(size_t i) const;
  void dims(const TensorImpl* t, const char* arg, size_t nd) const;
  void numel(const TensorImpl* t, const char* arg, int64_t n, const std::string& expect) const;
  // All given tensors on one device; ops with no CUDA kernel yet say so.
  Device device(std::initializer_list<const TensorImpl*> ts, bool cuda_ok = false) const;
  // Index tensors (i32/i64, CPU) as int64, each checked to lie in [lo, hi) unless lo > hi.
  std::vector<int64_t> indices(const TensorImpl* t, const char* arg, int64_t lo, int64_t hi) const;
};

}  // namespace plf
