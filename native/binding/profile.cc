// The op profiler (see profile.h).
#include "profile.h"
#include "op.h"
#include "plf/ops.h"
#include <chrono>
#include <map>
#include <string>

namespace plf {

bool g_profiling = false;
namespace {
struct OpTime {
  int64_t calls = 0, ns = 0, staged = 0, mixed = 0;
};
std::map<std::string, OpTime> g_times;
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
void sync_quietly() {
  try {
    cuda::synchronize();
  } catch (...) {}  // a CUDA error surfaces in the op itself
}
}  // namespace

ProfileScope::ProfileScope(const char* n) : name(n) {
  sync_quietly();  // earlier queued work is not this op's
  t0 = now_ns();
}
ProfileScope::~ProfileScope() {
  sync_quietly();
  OpTime& t = g_times[name];
  t.calls++;
  t.ns += now_ns() - t0;
}

void profile_staged(const char* op, int64_t bytes) {
  if (g_profiling) g_times[op].staged += bytes;
}
void profile_mixed(const char* op) {
  if (g_profiling) g_times[op].mixed++;
}

// profile_start(): clears the table and times every op from now on
static Napi::Value ProfileStart(const Napi::CallbackInfo& info) {
  g_times.clear();
  g_profiling = true;
  return info.Env().Undefined();
}
// profile_stop() -> { op: { calls, ms, stagedBytes, mixed } } since profile_start
static Napi::Value ProfileStop(const Napi::CallbackInfo& info) {
  g_profiling = false;
  Napi::Object o = Napi::Object::New(info.Env());
  for (const auto& kv : g_times) {
    Napi::Object e = Napi::Object::New(info.Env());
    e.Set("calls", double(kv.second.calls));
    e.Set("ms", double(kv.second.ns) / 1e6);
    e.Set("stagedBytes", double(kv.second.staged));
    e.Set("mixed", double(kv.second.mixed));
    o.Set(kv.first, e);
  }
  return o;
}
void register_profile(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "profile_start", ProfileStart);
  export_fn(env, exports, "profile_stop", ProfileStop);
}

}  // namespace plf
