// Op profiling (profile_start / profile_stop from JS): each kernel call is timed between two device
// synchronizations and summed per op name. Off by default; the check costs one load.
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

void register_profile(Napi::Env env, Napi::Object exports);

}  // namespace plf
