// Shared types of the plf C++ core: dtypes, devices, half-precision conversion.
// Kernel headers (nf4.h, linear.h, ...) use only plain pointers, sizes and these enums.
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>

namespace plf {

enum class DType : int32_t { F32 = 0, F16 = 1, BF16 = 2, U8 = 3, I32 = 4, I64 = 5 };
enum class Device : int32_t { CPU = 0, CUDA = 1 };

inline size_t dtype_size(DType d) {
  switch (d) {
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
      return 2;
    case DType::U8:
      return 1;
    case DType::I64:
      return 8;
  }
  return 0;
}
inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
    case DType::U8:
      return "u8";
    case DType::I32:
      return "i32";
    case DType::I64:
      return "i64";
  }
  return "?";
}

// The conversions are shared by the CPU and CUDA code (__host__ __device__ under nvcc), so both
// produce the same bits, NaN included (0x7FC0 / 0x7E00 like torch's CPU kernels).
#ifdef __CUDACC__
#define PLF_HD __host__ __device__
#else
#define PLF_HD
#endif

PLF_HD inline uint32_t f32_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
PLF_HD inline float bits_f32(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

PLF_HD inline float bf16_to_f32(uint16_t h) { return bits_f32(uint32_t(h) << 16); }
// Round to nearest even; every NaN becomes the canonical 0x7FC0.
PLF_HD inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t(0x7fc0);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

PLF_HD inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0) {
    float v = float(man) * 5.9604644775390625e-8f;  // man · 2^-24, exact
    return sign ? -v : v;
  }
  if (exp == 31) return bits_f32(sign | 0x7f800000u | (man << 13));
  return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}
// Round to nearest even, overflow to inf, subnormals kept; every NaN becomes 0x7E00 (sign dropped).
PLF_HD inline uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(0x7e00);
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520 -> inf
  if (a < 0x38800000u) {                                  // below 2^-14: a half subnormal (or zero)
    if (a <= 0x33000000u) return sign;                    // <= 2^-25 rounds to zero (the tie goes to even 0)
    uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126 - e;
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) h += 1;
    return uint16_t(sign | h);
  }
  uint32_t h = (((a >> 23) - 112) << 10) | ((a >> 13) & 0x3ffu);
  uint32_t rest = a & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h += 1;
  return uint16_t(sign | h);
}

}  // namespace plf
