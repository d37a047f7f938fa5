// NF4 quantize / dequantize on the CPU, byte-identical to bitsandbytes.
#include "plf/nf4.h"
#include <algorithm>
#include <cmath>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace plf {

// bitsandbytes' NF4 code (quantiles of N(0,1) normalised to [-1, 1]).
const float NF4_CODE[16] = {-1.0f,
                            -0.6961928009986877f,
                            -0.5250730514526367f,
                            -0.39491748809814453f,
                            -0.28444138169288635f,
                            -0.18477343022823334f,
                            -0.09105003625154495f,
                            0.0f,
                            0.07958029955625534f,
                            0.16093020141124725f,
                            0.24611230194568634f,
                            0.33791524171829224f,
                            0.44070982933044434f,
                            0.5626170039176941f,
                            0.7229568362236023f,
                            1.0f};

namespace cpu {

void dynamic_map_signed(float out[256]) {
  // 7 exponent levels 10^-6 … 10^0, each with 2^i linearly spaced fractions in [0.1, 1]
  // (their midpoints), mirrored for the sign, plus 0 and 1: 2·127 + 2 = 256 values.
  float vals[256];
  int n = 0;
  for (int i = 0; i < 7; i++) {
    int items = (1 << i) + 1;
    double scale = std::pow(10.0, -6 + i);
    for (int j = 0; j + 1 < items; j++) {
      float b0 = float(0.1 + 0.9 * j / (items - 1));
      float b1 = float(0.1 + 0.9 * (j + 1) / (items - 1));
      float mean = (b0 + b1) / 2.0f;
      float v = float(scale * double(mean));
      vals[n++] = v;
      vals[n++] = -v;
    }
  }
  vals[n++] = 0.0f;
  vals[n++] = 1.0f;
  std::sort(vals, vals + n);
  std::copy(vals, vals + 256, out);
}

// Index of the nearest value of a sorted code (first on ties), equal to torch.argmin(|x - code|):
// binary search for the bracketing pair, then the closer of the two (fl(x - c) is monotone in c,
// so no farther entry can win).
static inline uint8_t nearest(float x, const float* code, int ncode) {
  if (!(x >= code[0])) return 0;
  // branch-free search (ncode is a power of two): lo = the last index with code[lo] <= x
  int lo = 0;
  for (int step = ncode >> 1; step >= 1; step >>= 1) lo = code[lo + step] <= x ? lo + step : lo;
  int hi = lo + 1 < ncode ? lo + 1 : lo;
  return uint8_t(std::fabs(x - code[hi]) < std::fabs(x - code[lo]) ? hi : lo);
}

static inline float block_absmax_of(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; i++) m = std::max(m, std::fabs(x[i]));
  return m;
}

// Codes of one block: q[i] = nearest NF4 code of clamp(x[i]·inv, -1, 1), as the scalar rule below.
static void nf4_codes_scalar(const float* x, int64_t n, float inv, uint8_t* q) {
  for (int64_t i = 0; i < n; i++) {
    // An all-zero block gives NaN (0·inf), which clamps to -1: code 0, as bitsandbytes stores it.
    float v = std::min(1.0f, std::max(-1.0f, x[i] * inv));
    int lo = 0;  // the last code <= v, then the closer neighbour (first on ties)
    for (int j = 1; j < 16; j++) lo += NF4_CODE[j] <= v;
    int hi = lo < 15 ? lo + 1 : 15;
    q[i] = uint8_t(std::fabs(v - NF4_CODE[hi]) < std::fabs(v - NF4_CODE[lo]) ? hi : lo);
  }
}

#if defined(__x86_64__)
// NF4_CODE[idx] for idx in 0..15, the code held in two registers
__attribute__((target("avx2,fma"))) static inline __m256 lookup16(__m256 c_lo, __m256 c_hi, __m256i idx,
                                                                  __m256i seven) {
  __m256 a = _mm256_permutevar8x32_ps(c_lo, idx), b = _mm256_permutevar8x32_ps(c_hi, idx);
  return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, seven)));
}

// The same rule, 8 lanes at a time: the 16-entry code lives in two registers (permutevar).
__attribute__((target("avx2,fma"))) static void nf4_codes_avx2(const float* x, int64_t n, float inv, uint8_t* q) {
  const __m256 c_lo = _mm256_loadu_ps(NF4_CODE), c_hi = _mm256_loadu_ps(NF4_CODE + 8);
  const __m256 vinv = _mm256_set1_ps(inv), one = _mm256_set1_ps(1.0f), mone = _mm256_set1_ps(-1.0f);
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i fifteen = _mm256_set1_epi32(15), seven = _mm256_set1_epi32(7), ione = _mm256_set1_epi32(1);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv), mone), one);  // NaN -> -1
    __m256i lo = _mm256_setzero_si256();
    for (int j = 1; j < 16; j++)  // cmp gives -1 where code[j] <= v
      lo = _mm256_sub_epi32(lo, _mm256_castps_si256(_mm256_cmp_ps(_mm256_set1_ps(NF4_CODE[j]), v, _CMP_LE_OQ)));
    __m256i hi = _mm256_min_epi32(_mm256_add_epi32(lo, ione), fifteen);
    __m256 dlo = _mm256_and_ps(_mm256_sub_ps(v, lookup16(c_lo, c_hi, lo, seven)), absmask);
    __m256 dhi = _mm256_and_ps(_mm256_sub_ps(v, lookup16(c_lo, c_hi, hi, seven)), absmask);
    __m256i pick = _mm256_castps_si256(_mm256_cmp_ps(dhi, dlo, _CMP_LT_OQ));
    __m256i r = _mm256_blendv_epi8(lo, hi, pick);
    alignas(32) int32_t out[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(out), r);
    for (int k = 0; k < 8; k++) q[i + k] = uint8_t(out[k]);
  }
  nf4_codes_scalar(x + i, n - i, inv, q + i);
}
static const bool NF4_AVX2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif

void nf4_quantize(const float* x, int64_t n, int64_t blocksize, uint8_t* packed, float* absmax) {
  int64_t nblocks = (n + blocksize - 1) / blocksize;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < nblocks; b++) {
    int64_t s = b * blocksize, e = std::min(n, s + blocksize);
    float am = block_absmax_of(x + s, e - s);
    absmax[b] = am;
    uint8_t q[4096];
#if defined(__x86_64__)
    if (NF4_AVX2)
      nf4_codes_avx2(x + s, e - s, 1.0f / am, q);
    else
#endif
      nf4_codes_scalar(x + s, e - s, 1.0f / am, q);
    // blocksize is even, so element pairs never straddle a block
    for (int64_t i = s; i < e; i += 2) packed[i >> 1] = uint8_t(q[i - s] << 4) | (i + 1 < e ? q[i + 1 - s] : 0);
  }
}

void blockwise_quantize_u8(const float* x, int64_t n, int64_t blocksize, const float* code, uint8_t* q, float* absmax) {
  int64_t nblocks = (n + blocksize - 1) / blocksize;
  for (int64_t b = 0; b < nblocks; b++) {
    int64_t s = b * blocksize, e = std::min(n, s + blocksize);
    float am = block_absmax_of(x + s, e - s);
    absmax[b] = am;
    float inv = 1.0f / am;
    for (int64_t i = s; i < e; i++) {
      float v = std::min(1.0f, std::max(-1.0f, x[i] * inv));
      q[i] = nearest(v, code, 256);
    }
  }
}

// float32 pairwise summation (8 accumulators per block of <= 128, halves above): the order
// numpy uses, which reproduces the nested_offset bitsandbytes-format files carry.
static float pairwise_sum(const float* a, int64_t n) {
  if (n < 8) {
    float r = 0.0f;
    for (int64_t i = 0; i < n; i++) r += a[i];
    return r;
  }
  if (n <= 128) {
    float r[8];
    for (int j = 0; j < 8; j++) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; j++) r[j] += a[i + j];
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double mean_f32(const float* x, int64_t n) { return n ? double(pairwise_sum(x, n) / float(n)) : 0.0; }

void nf4_dequantize_range(const NF4View& w, int64_t start, int64_t len, float* out) {
  int64_t i = start, end = start + len;
  while (i < end) {
    int64_t b = i / w.blocksize;
    int64_t be = std::min(end, (b + 1) * w.blocksize);
    float am = w.block_absmax(b);
    if (i & 1) {
      *out++ = w.code[w.packed[i >> 1] & 0x0f] * am;
      i++;
    }
    // whole bytes: two codes each
    const uint8_t* p = w.packed + (i >> 1);
    int64_t pairs = (be - i) >> 1;
    for (int64_t j = 0; j < pairs; j++) {
      uint8_t byte = p[j];
      out[2 * j] = w.code[byte >> 4] * am;
      out[2 * j + 1] = w.code[byte & 0x0f] * am;
    }
    out += 2 * pairs;
    i += 2 * pairs;
    if (i < be) {
      *out++ = w.code[w.packed[i >> 1] >> 4] * am;
      i++;
    }
  }
}

void nf4_dequantize(const NF4View& w, DType out_dtype, void* out) {
  const int64_t chunk = 4096;
  int64_t nchunks = (w.numel + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (w.numel > 65536)
  for (int64_t c = 0; c < nchunks; c++) {
    float buf[4096];
    int64_t s = c * chunk, len = std::min(chunk, w.numel - s);
    if (out_dtype == DType::F32) {
      nf4_dequantize_range(w, s, len, static_cast<float*>(out) + s);
      continue;
    }
    nf4_dequantize_range(w, s, len, buf);
    uint16_t* o = static_cast<uint16_t*>(out) + s;
    if (out_dtype == DType::BF16)
      for (int64_t i = 0; i < len; i++) o[i] = f32_to_bf16(buf[i]);
    else
      for (int64_t i = 0; i < len; i++) o[i] = f32_to_f16(buf[i]);
  }
}

}  // namespace cpu
}  // namespace plf
