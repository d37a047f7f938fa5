// NF4 4-bit quantization in the bitsandbytes byte format.
// Packed bytes hold two codes, the first element in the high nibble; absmax is per block of
// `blocksize` elements; with double quantization absmax is stored as u8 codes of the signed
// 8-bit dynamic map (nested blocks of 256) plus the mean `offset` that was subtracted first.
#pragma once
#include "common.h"

namespace plf {

extern const float NF4_CODE[16];

// A read-only view of an NF4 weight; absmax is f32 (plain) or u8 + nested tables (double quant).
struct NF4View {
  const uint8_t* packed = nullptr;
  const float* absmax = nullptr;          // plain absmax, or nullptr with double quant
  const uint8_t* absmax_q = nullptr;      // double quant: u8 codes of (absmax - offset)
  const float* nested_absmax = nullptr;   // double quant: per nested block
  const float* nested_code = nullptr;     // double quant: 256-entry dynamic map
  const float* code = NF4_CODE;           // 16-entry NF4 map
  float offset = 0.0f;
  int64_t blocksize = 64;
  int64_t nested_blocksize = 256;
  int64_t numel = 0;

  float block_absmax(int64_t b) const {
    if (absmax) return absmax[b];
    return nested_code[absmax_q[b]] * nested_absmax[b / nested_blocksize] + offset;
  }
};

namespace cpu {
// The signed 8-bit dynamic map of bitsandbytes (create_dynamic_map(signed=True)).
void dynamic_map_signed(float out[256]);
// x: n floats -> packed: ceil(n/2) bytes, absmax: ceil(n/blocksize) floats.
void nf4_quantize(const float* x, int64_t n, int64_t blocksize, uint8_t* packed, float* absmax);
// 8-bit blockwise quantization against a 256-entry code (nearest code, first on ties).
void blockwise_quantize_u8(const float* x, int64_t n, int64_t blocksize, const float* code, uint8_t* q, float* absmax);
// out: n elements of dtype F32, F16 or BF16.
void nf4_dequantize(const NF4View& w, DType out_dtype, void* out);
// Dequantize elements [start, start+len) to f32 (used by the fused linear kernels).
void nf4_dequantize_range(const NF4View& w, int64_t start, int64_t len, float* out);
double mean_f32(const float* x, int64_t n);
}  // namespace cpu

namespace cuda {
void nf4_dequantize(const NF4View& w, DType out_dtype, void* out);
// x: n device floats -> packed, absmax (plain; double quantization of absmax is done by the caller)
void nf4_quantize(const float* x, int64_t n, int64_t blocksize, uint8_t* packed, float* absmax);
}

}  // namespace plf
