// Column slices (native/cuda/copy.cuh: y = x[:, start:start+L], backward adding dy into those
// columns of dx) on the emulator against the CPU reference (native/cpu/copy.cpp), in f32 and with
// 16-bit activations in place (within one ulp of the staged CPU path). Exits 1 when one is off.
#include "emu.h"
#include "half.h"
#include "copy.cuh"
#include "plf/copy.h"
#include <cstdio>

using namespace plf;
using namespace plf::cuda;

template <DType T>
static void run(long long R, long long C, long long start, long long L) {
  emu::Buf x(T, emu::randn(R * C)), y(T, R * L), dy(T, emu::randn(R * L)), dx(T, emu::randn(R * C));
  auto xf = x.f32(), dyf = dy.f32(), dxf = dx.f32();
  emu::launch(dim3(unsigned((R * L + 255) / 256)), dim3(256), 0, [&] { slice_fwd_k<T>(x.p(), R, C, start, L, y.p()); });
  std::vector<float> c(R * L);
  cpu::slice_cols_forward(xf.data(), R, C, start, L, c.data());
  char what[96];
  snprintf(what, sizeof what, "slice [%lld,%lld] cols %lld..%lld", R, C, start, start + L);
  emu::expect_act(what, T, y.f32(), c);
  emu::launch(dim3(unsigned((R * L + 255) / 256)), dim3(256), 0,
              [&] { slice_bwd_k<T>(dy.p(), R, C, start, L, dx.p()); });
  cpu::slice_cols_backward(dyf.data(), R, C, start, L, dxf.data());
  snprintf(what, sizeof what, "slice [%lld,%lld] backward (adding)", R, C);
  emu::expect_act(what, T, dx.f32(), dxf);
}

int main() {
  run<DType::F32>(7, 30, 10, 12);
  run<DType::BF16>(7, 30, 0, 30);
  run<DType::F16>(3, 48, 32, 16);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all slice cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
