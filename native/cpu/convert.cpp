// f32 <-> f16 <-> bf16 conversion on the CPU (round to nearest even).
#include "plf/ops.h"

namespace plf {
namespace cpu {

static inline float load(DType d, const void* p, int64_t i) {
  switch (d) {
    case DType::F32:
      return static_cast<const float*>(p)[i];
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default:
      return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
}

void convert(DType from, const void* src, DType to, void* dst, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) {
    float v = load(from, src, i);
    switch (to) {
      case DType::F32:
        static_cast<float*>(dst)[i] = v;
        break;
      case DType::BF16:
        static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v);
        break;
      default:
        static_cast<uint16_t*>(dst)[i] = f32_to_f16(v);
        break;
    }
  }
}

}  // namespace cpu
}  // namespace plf
