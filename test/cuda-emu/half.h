// 16-bit activations in the emulator checks: buffers of an activation dtype T (plf/act.h) made from
// f32 values, the values a kernel reads from them, and the distance in units in the last place
// between two buffers of T (for outputs that a kernel and the staged CPU path each round once).
#pragma once
#include "emu.h"
#include "plf/act.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace emu {
using plf::DType;

inline const char* dname(DType t) { return t == DType::F32 ? "f32" : t == DType::BF16 ? "bf16" : "f16"; }
inline size_t dsize(DType t) { return t == DType::F32 ? 4 : 2; }

// a buffer of dtype t (16-byte aligned, as cudaMalloc gives)
struct Buf {
  DType t;
  std::vector<float> store;  // backing memory (f32 words, 16-bit values packed two per word)
  size_t n;
  Buf(DType d, size_t count) : t(d), store((count * dsize(d) + 15) / 4 + 4), n(count) {}
  Buf(DType d, const std::vector<float>& v) : Buf(d, v.size()) {
    for (size_t i = 0; i < n; i++) plf::st(p(), t, (long long)i, v[i]);
  }
  void* p() { return store.data(); }
  const void* p() const { return store.data(); }
  // the values as f32 (what a kernel reads)
  std::vector<float> f32() const {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++) v[i] = plf::ld(p(), t, (long long)i);
    return v;
  }
};

// f32 values rounded to t and back: the staged path's result of an f32 computation
inline std::vector<float> rounded(DType t, const std::vector<float>& v) { return Buf(t, v).f32(); }

// the largest distance in ulps of t between a and b (f32 values already representable in t); with
// exact (the unrounded reference) given, elements within floor·max|exact| of it are not counted:
// where a sum cancels to near zero, the f32 and double sums differ by many ulps of the tiny result
template <typename E = float>
inline long long max_ulp(DType t, const std::vector<float>& a, const std::vector<float>& b,
                         const std::vector<E>* exact = nullptr, double floor = 1e-6) {
  auto order = [t](float f) -> long long {
    uint32_t u = plf::f32_bits(f);
    long long k = t == DType::F32    ? (long long)(u & 0x7fffffffu)
                  : t == DType::BF16 ? (long long)((u >> 16) & 0x7fffu)
                                     : (long long)(plf::f32_to_f16(f) & 0x7fffu);
    return (u >> 31) ? -k : k;
  };
  double big = 0;
  if (exact)
    for (auto v : *exact) big = std::max(big, std::fabs(double(v)));
  long long m = 0;
  for (size_t i = 0; i < a.size(); i++) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return 1LL << 40;
    if (exact && std::fabs(double(a[i]) - double((*exact)[i])) <= floor * big) continue;
    m = std::max(m, std::llabs(order(a[i]) - order(b[i])));
  }
  return m;
}

// an activation output against the CPU reference's f32 result: f32 within `tol` relative to the
// largest value, 16-bit within one ulp of the staged path's rounding (near-zero cancellations aside)
inline void expect_act(const char* what, DType t, const std::vector<float>& got, const std::vector<float>& cpu,
                       double tol = 1e-6) {
  if (t == DType::F32) {
    double e = max_rel(got, cpu);
    printf("%-44s %-4s %.2e\n", what, dname(t), e);
    expect(e <= tol);
    return;
  }
  long long u = max_ulp(t, got, rounded(t, cpu), &cpu);
  printf("%-44s %-4s %lld ulp\n", what, dname(t), u);
  expect(u <= 1);
}
}  // namespace emu
