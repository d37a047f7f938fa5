// NF4 4-bit quantization in the bitsandbytes byte format.
// Packed bytes hold two codes, the first element in the high nibble; absmax is per block of
// `blocksize` elements; with double quantization absmax is stored as u8 codes of the signed
// 8-bit dynamic map (nested blocks of 256) plus the mean `offset` that was subtracted first.
#pragma once
#include "common.h"
#include "op_decl.h"

namespace plf {

extern const float NF4_CODE[16];

// A read-only view of an NF4 weight; absmax is f32 (plain) or u8 + nested tables (double quant).
struct NF4View {
  const uint8_t* packed = nullptr;
  const float* absmax = nullptr;         // plain absmax, or nullptr with double quant
  const uint8_t* absmax_q = nullptr;     // double quant: u8 codes of (absmax - offset)
  const float* nested_absmax = nullptr;  // double quant: per nested block
  const float* nested_code = nullptr;    // double quant: 256-entry dynamic map
  const float* code = NF4_CODE;          // 16-entry NF4 map
  float offset = 0.0f;
  int64_t blocksize = 64;
  int64_t nested_blocksize = 256;
  int64_t numel = 0;

  float block_absmax(int64_t b) const {
    if (absmax) return absmax[b];
    return nested_code[absmax_q[b]] * nested_absmax[b / nested_blocksize] + offset;
  }
};

// NF4 on both devices (CUDA: device pointers; double quantization of absmax is done by the caller).
#define PLF_NF4_OPS(X)                                                                                  \
  /* x: n floats -> packed: ceil(n/2) bytes, absmax: ceil(n/blocksize) floats. */                       \
  X(void, nf4_quantize, (const float* x, int64_t n, int64_t blocksize, uint8_t* packed, float* absmax)) \
  /* out: n elements of dtype F32, F16 or BF16. */                                                      \
  X(void, nf4_dequantize, (const NF4View& w, DType out_dtype, void* out))

}  // namespace plf
PLF_DECLARE_OPS(PLF_NF4_OPS)
namespace plf {

namespace cpu {
// The signed 8-bit dynamic map of bitsandbytes (create_dynamic_map(signed=True)).
void dynamic_map_signed(float out[256]);
// 8-bit blockwise quantization against a 256-entry code (nearest code, first on ties).
void blockwise_quantize_u8(const float* x, int64_t n, int64_t blocksize, const float* code, uint8_t* q, float* absmax);
// Dequantize elements [start, start+len) to f32 (used by the fused linear kernels).
void nf4_dequantize_range(const NF4View& w, int64_t start, int64_t len, float* out);
double mean_f32(const float* x, int64_t n);
}  // namespace cpu
}  // namespace plf
