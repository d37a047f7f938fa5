// Activation buffers of any float dtype (f32, bf16, f16). The op lists (op_decl.h) name activation
// parameters ActIn / ActOut, which mean `const float*` / `float*` in namespace cpu (the CPU reference
// computes on f32; the binding stages 16-bit tensors through f32 for it) and CAct / Act in namespace
// cuda, where the kernels read and write 16-bit values in place with the math in f32 registers —
// the same bits as the staged path, since both round once with the same conversions (common.h).
#pragma once
#include "common.h"

namespace plf {

struct Act {  // a writable activation buffer and its dtype (F32, BF16 or F16)
  void* p = nullptr;
  DType t = DType::F32;
};
struct CAct {  // a read-only one
  const void* p = nullptr;
  DType t = DType::F32;
  CAct() = default;
  CAct(const void* q, DType d) : p(q), t(d) {}
  CAct(Act a) : p(a.p), t(a.t) {}  // NOLINT: an output may be read back
};

// One element as f32, and an f32 rounded into one element, for a dtype known at compile time.
template <DType T>
PLF_HD inline float ld(const void* p, long long i) {
  if constexpr (T == DType::F32)
    return static_cast<const float*>(p)[i];
  else if constexpr (T == DType::BF16)
    return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  else
    return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
}
template <DType T>
PLF_HD inline void st(void* p, long long i, float v) {
  if constexpr (T == DType::F32)
    static_cast<float*>(p)[i] = v;
  else if constexpr (T == DType::BF16)
    static_cast<uint16_t*>(p)[i] = f32_to_bf16(v);
  else
    static_cast<uint16_t*>(p)[i] = f32_to_f16(v);
}
// The same with the dtype known only at run time (uniform across a launch, so the branch is cheap)
PLF_HD inline float ld(const void* p, DType t, long long i) {
  return t == DType::F32 ? ld<DType::F32>(p, i) : t == DType::BF16 ? ld<DType::BF16>(p, i) : ld<DType::F16>(p, i);
}
PLF_HD inline void st(void* p, DType t, long long i, float v) {
  if (t == DType::F32)
    st<DType::F32>(p, i, v);
  else if (t == DType::BF16)
    st<DType::BF16>(p, i, v);
  else
    st<DType::F16>(p, i, v);
}

namespace cpu {
using ActIn = const float*;
using ActOut = float*;
}  // namespace cpu
namespace cuda {
using ActIn = CAct;
using ActOut = Act;
}  // namespace cuda

}  // namespace plf
