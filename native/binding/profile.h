// Op profiling (profile_start / profile_stop from JS): each kernel call is timed between two device
// synchronizations and summed per op name, with the bytes staged through f32 for it (16-bit tensors
// a kernel did not take in place) and the calls whose activations mixed dtypes (which CUDA stages:
// a model should hand each op one dtype). Off by default; the check costs one load.
#pragma once
#include <napi.h>
#include <cstdint>

namespace plf {

extern bool g_profiling;
struct ProfileScope {
  const char* name;
  int64_t t0;
  explicit ProfileScope(const char* n);
  ~ProfileScope();
};

// while profiling: bytes converted for `op`'s staging, and one call of `op` with mixed activation dtypes
void profile_staged(const char* op, int64_t bytes);
void profile_mixed(const char* op);

void register_profile(Napi::Env env, Napi::Object exports);

}  // namespace plf
