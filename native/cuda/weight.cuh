// Reading one element of a weight of any storage dtype on the device (f32, bf16, f16, NF4);
// NF4's code table lives in shared memory of the calling kernel.
#pragma once
#include "plf/linear.h"

namespace plf {
namespace cuda {

// absmax of NF4 block b: plain, or double-quantized (two roundings, no FMA, as bitsandbytes)
__device__ inline float nf4_absmax(const NF4View& w, long long b) {
  return w.absmax
             ? w.absmax[b]
             : __fadd_rn(__fmul_rn(w.nested_code[w.absmax_q[b]], w.nested_absmax[b / w.nested_blocksize]), w.offset);
}

struct DeviceWeight {
  WeightView w;
  __device__ inline float at(long long r, long long c, const float* code) const {
    long long i = r * w.cols + c;
    switch (w.dtype) {
      case DType::F32:
        return static_cast<const float*>(w.data)[i];
      case DType::BF16:
        return bf16_to_f32(static_cast<const uint16_t*>(w.data)[i]);
      case DType::F16:
        return f16_to_f32(static_cast<const uint16_t*>(w.data)[i]);
      default: {
        unsigned char q = w.nf4.packed[i >> 1];
        return __fmul_rn(code[(i & 1) ? (q & 15) : (q >> 4)], nf4_absmax(w.nf4, i / w.nf4.blocksize));
      }
    }
  }
};

}  // namespace cuda
}  // namespace plf
