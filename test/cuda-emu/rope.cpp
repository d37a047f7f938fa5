// The RoPE kernel (native/cuda/rope.cuh) on the emulator against the CPU reference
// (native/cpu/rope.cpp): full and partial rotation (the tail copied), inverse (the backward), out of
// place and in place, in f32 and with 16-bit activations in place (within one ulp of the staged CPU
// path). Exits 1 otherwise.
#include "emu.h"
#include "half.h"
#include "rope.cuh"
#include "plf/rope.h"
#include <cstdio>

using namespace plf;
using namespace plf::cuda;

template <DType T>
static void run(long long B, long long S, long long H, long long D, long long rot, bool inverse, bool in_place) {
  emu::Buf x(T, emu::randn(B * S * H * D));
  auto xf = x.f32();
  std::vector<int64_t> pos(B * S);
  for (long long i = 0; i < B * S; i++) pos[i] = (i * 37) % 500;
  const double theta = 10000.0;
  long long half = rot / 2;
  std::vector<float> inv(half);  // as rope.cu computes it on the host
  for (long long i = 0; i < half; i++) inv[i] = 1.0f / std::pow(float(theta), float(2 * i) / float(rot));
  emu::Buf y(T, B * S * H * D);
  void* out = in_place ? x.p() : y.p();
  long long n = B * S * H * half;
  emu::launch(dim3(unsigned((n + 255) / 256)), dim3(256), 0,
              [&] { rope_k<T>(x.p(), pos.data(), B * S, H, D, half, rot, inv.data(), inverse, out); });
  std::vector<float> c(B * S * H * D);
  cpu::rope_forward(xf.data(), pos.data(), B, S, H, D, rot, theta, inverse, c.data(), nullptr, 0, nullptr);
  char what[96];
  snprintf(what, sizeof what, "rope [%lld,%lld,%lld,%lld] rot %lld%s%s", B, S, H, D, rot, inverse ? " inverse" : "",
           in_place ? " in place" : "");
  emu::expect_act(what, T, (in_place ? x : y).f32(), c);
}

// q and k in one launch: x [B,S,H,D] and x2 [B,S,H2,D] against two CPU calls' worth (the reference's pair)
template <DType T>
static void pair(long long B, long long S, long long H, long long H2, long long D, long long rot) {
  emu::Buf x(T, emu::randn(B * S * H * D)), x2(T, emu::randn(B * S * H2 * D));
  auto xf = x.f32(), x2f = x2.f32();
  std::vector<int64_t> pos(B * S);
  for (long long i = 0; i < B * S; i++) pos[i] = (i * 11) % 97;
  long long half = rot / 2;
  std::vector<float> inv(half);
  for (long long i = 0; i < half; i++) inv[i] = 1.0f / std::pow(10000.0f, float(2 * i) / float(rot));
  long long n = B * S * (H + H2) * half;
  emu::launch(dim3(unsigned((n + 255) / 256)), dim3(256), 0, [&] {
    rope_k<T>(x.p(), pos.data(), B * S, H, D, half, rot, inv.data(), false, x.p(), x2.p(), H2, x2.p());
  });
  std::vector<float> c(xf.size()), c2(x2f.size()), alone(x2f.size());
  cpu::rope_forward(xf.data(), pos.data(), B, S, H, D, rot, 10000.0, false, c.data(), x2f.data(), H2, c2.data());
  cpu::rope_forward(x2f.data(), pos.data(), B, S, H2, D, rot, 10000.0, false, alone.data(), nullptr, 0, nullptr);
  char what[96];
  snprintf(what, sizeof what, "rope pair H=%lld H2=%lld D=%lld (q)", H, H2, D);
  emu::expect_act(what, T, x.f32(), c);
  snprintf(what, sizeof what, "rope pair H=%lld H2=%lld D=%lld (k)", H, H2, D);
  emu::expect_act(what, T, x2.f32(), c2);
  emu::expect(c2 == alone);  // the reference's second tensor is the one-tensor call's result
}

int main() {
  pair<DType::F32>(2, 3, 4, 2, 16, 16);
  pair<DType::BF16>(1, 1, 8, 2, 32, 24);
  run<DType::F32>(2, 5, 3, 16, 16, false, false);
  run<DType::F32>(1, 7, 2, 20, 8, true, false);
  run<DType::BF16>(2, 5, 3, 16, 16, false, true);
  run<DType::BF16>(1, 7, 2, 20, 8, true, false);
  run<DType::F16>(2, 3, 4, 32, 32, true, true);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all RoPE cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
