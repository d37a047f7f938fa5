// The elementwise activation kernels (native/cuda/activation.cuh: SwiGLU, GELU erf/tanh, GeGLU,
// ReLU, tanh, scale, add) on the emulator against the CPU reference (native/cpu/activation.cpp), in
// f32 and with 16-bit activations read and written in place (within one ulp of the staged CPU path).
// Exits 1 otherwise.
#include "emu.h"
#include "half.h"
#include "activation.cuh"
#include "plf/activation.h"
#include <cstdio>

using namespace plf;
using namespace plf::cuda;
using emu::Buf;
using emu::randn;

template <typename F>
static void grid(long long n, F f) {
  emu::launch(dim3(unsigned((n + 255) / 256)), dim3(256), 0, f);
}

template <DType T>
static void run(long long n) {
  Buf g(T, randn(n, 2.0f)), u(T, randn(n)), dy(T, randn(n)), x(T, randn(n, 2.0f));
  auto gf = g.f32(), uf = u.f32(), dyf = dy.f32(), xf = x.f32();
  Buf y(T, n), d1(T, n), d2(T, n);
  std::vector<float> c1(n), c2(n);
  char what[64];
  grid(n, [&] { swiglu_fwd_k<T>(g.p(), u.p(), n, y.p()); });
  cpu::swiglu_forward(gf.data(), uf.data(), n, c1.data());
  emu::expect_act("swiglu forward", T, y.f32(), c1);
  grid(n, [&] { swiglu_bwd_k<T>(dy.p(), g.p(), u.p(), n, d1.p(), d2.p()); });
  cpu::swiglu_backward(dyf.data(), gf.data(), uf.data(), n, c1.data(), c2.data());
  emu::expect_act("swiglu backward dgate", T, d1.f32(), c1);
  emu::expect_act("swiglu backward dup", T, d2.f32(), c2);
  for (bool t : {false, true}) {
    grid(n, [&] { gelu_fwd_k<T>(x.p(), n, t, y.p()); });
    cpu::gelu_forward(xf.data(), n, t, c1.data());
    snprintf(what, sizeof what, "gelu (%s) forward", t ? "tanh" : "erf");
    emu::expect_act(what, T, y.f32(), c1);
    grid(n, [&] { gelu_bwd_k<T>(dy.p(), x.p(), n, t, d1.p()); });
    cpu::gelu_backward(dyf.data(), xf.data(), n, t, c1.data());
    snprintf(what, sizeof what, "gelu (%s) backward", t ? "tanh" : "erf");
    emu::expect_act(what, T, d1.f32(), c1);
  }
  grid(n, [&] { geglu_fwd_k<T>(g.p(), u.p(), n, true, y.p()); });
  cpu::geglu_forward(gf.data(), uf.data(), n, true, c1.data());
  emu::expect_act("geglu forward", T, y.f32(), c1);
  grid(n, [&] { geglu_bwd_k<T>(dy.p(), g.p(), u.p(), n, false, d1.p(), d2.p()); });
  cpu::geglu_backward(dyf.data(), gf.data(), uf.data(), n, false, c1.data(), c2.data());
  emu::expect_act("geglu backward dgate", T, d1.f32(), c1);
  emu::expect_act("geglu backward dup", T, d2.f32(), c2);
  grid(n, [&] { relu_fwd_k<T>(x.p(), n, y.p()); });
  cpu::relu_forward(xf.data(), n, c1.data());
  emu::expect_act("relu forward", T, y.f32(), c1);
  grid(n, [&] { relu_bwd_k<T>(dy.p(), x.p(), n, d1.p()); });
  cpu::relu_backward(dyf.data(), xf.data(), n, c1.data());
  emu::expect_act("relu backward", T, d1.f32(), c1);
  grid(n, [&] { tanh_fwd_k<T>(x.p(), n, y.p()); });
  cpu::tanh_forward(xf.data(), n, c1.data());
  emu::expect_act("tanh forward", T, y.f32(), c1);
  auto yf = y.f32();  // tanh's backward reads its output
  grid(n, [&] { tanh_bwd_k<T>(dy.p(), y.p(), n, d1.p()); });
  cpu::tanh_backward(dyf.data(), yf.data(), n, c1.data());
  emu::expect_act("tanh backward", T, d1.f32(), c1);
  grid(n, [&] { scale_k<T>(x.p(), n, -0.37f, y.p()); });
  cpu::scale_forward(xf.data(), n, -0.37f, c1.data());
  emu::expect_act("scale", T, y.f32(), c1);
  grid(n, [&] { scale_k<T>(y.p(), n, 2.0f, y.p()); });  // in place (y == x)
  for (auto& v : c1) v *= 2.0f;
  emu::expect_act("scale in place", T, y.f32(), emu::rounded(T, c1));
  grid(n, [&] { add_k<T>(x.p(), g.p(), n, y.p()); });
  cpu::add_forward(xf.data(), gf.data(), n, c1.data());
  emu::expect_act("add (the residual)", T, y.f32(), c1);
}

int main() {
  run<DType::F32>(1000);
  run<DType::BF16>(777);
  run<DType::F16>(300);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all activation cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
