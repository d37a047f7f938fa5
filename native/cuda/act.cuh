// Launching a kernel templated on the activation dtype (plf/act.h): by_dtype(t, f) calls f with
// std::integral_constant<DType, T> for T = F32, BF16 or F16, so f can instantiate kernel<T>.
#pragma once
#include "plf/act.h"
#include <type_traits>

namespace plf {
namespace cuda {

template <DType T>
using DTypeTag = std::integral_constant<DType, T>;
#define PLF_DT(tag) decltype(tag)::value

template <typename F>
inline void by_dtype(DType t, F&& f) {
  if (t == DType::BF16)
    f(DTypeTag<DType::BF16>{});
  else if (t == DType::F16)
    f(DTypeTag<DType::F16>{});
  else
    f(DTypeTag<DType::F32>{});
}

}  // namespace cuda
}  // namespace plf
