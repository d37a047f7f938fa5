// The tensor-core API the kernels use (nvcuda::wmma 16×16×16 fragments, bf16/f16 operands, f32
// accumulators) and the 16-bit types of cuda_bf16.h / cuda_fp16.h, for the CPU emulator (emu.h).
// A fragment's element-to-lane mapping is opaque in wmma, so each emulated thread holds the whole
// tile: load_matrix_sync reads all of it, mma_sync multiplies it in f32 (k in order), and
// store_matrix_sync writes the elements e ≡ lane (mod 32), so a warp's lanes write disjoint parts as
// on the hardware and a lane reading another's part still needs the kernel's own __syncwarp.
#pragma once
#include "emu.h"
#include "plf/common.h"
#include <atomic>
#include <cstdio>
#include <type_traits>

#define __align__(n) __attribute__((aligned(n)))

struct __nv_bfloat16 {
  uint16_t x;
};
struct __half {
  uint16_t x;
};
struct __nv_bfloat162 {
  __nv_bfloat16 x, y;
};
struct __half2 {
  __half x, y;
};
inline __nv_bfloat16 __float2bfloat16_rn(float v) { return {plf::f32_to_bf16(v)}; }
inline __half __float2half_rn(float v) { return {plf::f32_to_f16(v)}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
  return {__float2bfloat16_rn(a), __float2bfloat16_rn(b)};
}
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half_rn(a), __float2half_rn(b)}; }
inline float emu_to_f32(__nv_bfloat16 h) { return plf::bf16_to_f32(h.x); }
inline float emu_to_f32(__half h) { return plf::f16_to_f32(h.x); }
inline float emu_to_f32(float f) { return f; }

namespace emu {
// wmma's rule: ldm a multiple of 16 bytes (8 16-bit elements, 4 floats); a kernel breaking it is a failure
inline void wmma_ldm(unsigned ldm, size_t elem) {
  if ((ldm * elem) % 16) {
    static std::atomic<bool> said{false};
    if (!said.exchange(true)) {  // once: the emulated threads would race on the count
      printf("wmma: ldm %u is not a multiple of %zu elements\n", ldm, 16 / elem);
      failures++;
    }
  }
}
}  // namespace emu

namespace nvcuda {
namespace wmma {
struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the emulator has the 16×16×16 shape only");
  float v[16][16];  // (row, col) of the tile: a [m][k], b [k][n], accumulator [m][n]
  static constexpr int num_elements = 256;
};

template <typename Use, typename T, typename Layout>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, float x) {
  for (auto& r : f.v)
    for (auto& e : r) e = x;
}
// a (m, k) or b (k, n) from 16-bit memory: row_major (r, c) at p[r·ldm + c], col_major at p[c·ldm + r]
template <typename Use, typename T, typename Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ldm) {
  emu::wmma_ldm(ldm, sizeof(T));
  for (int r = 0; r < 16; r++)
    for (int c = 0; c < 16; c++)
      f.v[r][c] = emu_to_f32(std::is_same<Layout, row_major>::value ? p[r * ldm + c] : p[c * ldm + r]);
}
template <typename TA, typename TB, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, TA, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, TB, LB>& b,
                     const fragment<accumulator, 16, 16, 16, float>& c) {
  float out[16][16];
  for (int m = 0; m < 16; m++)
    for (int n = 0; n < 16; n++) {
      float s = c.v[m][n];
      for (int k = 0; k < 16; k++) s += a.v[m][k] * b.v[k][n];
      out[m][n] = s;
    }
  for (int m = 0; m < 16; m++)
    for (int n = 0; n < 16; n++) d.v[m][n] = out[m][n];
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm,
                              layout_t layout) {
  emu::wmma_ldm(ldm, 4);
  const unsigned lane = emu::linear_tid() % 32;
  for (unsigned e = lane; e < 256; e += 32) {
    unsigned m = e / 16, n = e % 16;
    p[layout == mem_row_major ? m * ldm + n : n * ldm + m] = f.v[m][n];
  }
}
}  // namespace wmma
}  // namespace nvcuda
