// NF4 quantize / dequantize on the CPU, byte-identical to bitsandbytes.
#include "plf/nf4.h"
#include <algorithm>
#include <cmath>

namespace plf {

// bitsandbytes' NF4 code (quantiles of N(0,1) normalised to [-1, 1]).
const float NF4_CODE[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

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

// Index of the nearest code value (first on ties), as torch.argmin(|x - code|).
static inline uint8_t nearest(float x, const float* code, int ncode) {
  int best = 0;
  float bd = std::fabs(x - code[0]);
  for (int i = 1; i < ncode; i++) {
    float d = std::fabs(x - code[i]);
    if (d < bd) { bd = d; best = i; }
  }
  return uint8_t(best);
}

static inline float block_absmax_of(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; i++) m = std::max(m, std::fabs(x[i]));
  return m;
}

void nf4_quantize(const float* x, int64_t n, int64_t blocksize, uint8_t* packed, float* absmax) {
  int64_t nblocks = (n + blocksize - 1) / blocksize;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < nblocks; b++) {
    int64_t s = b * blocksize, e = std::min(n, s + blocksize);
    float am = block_absmax_of(x + s, e - s);
    absmax[b] = am;
    float inv = 1.0f / am;
    for (int64_t i = s; i < e; i++) {
      // An all-zero block gives NaN (0·inf), which clamps to -1: code 0, as bitsandbytes stores it.
      float v = std::min(1.0f, std::max(-1.0f, x[i] * inv));
      uint8_t q = nearest(v, NF4_CODE, 16);
      // blocksize is even, so element pairs never straddle a block
      if ((i & 1) == 0) packed[i >> 1] = uint8_t(q << 4);
      else packed[i >> 1] |= q;
    }
  }
}

void blockwise_quantize_u8(const float* x, int64_t n, int64_t blocksize, const float* code, uint8_t* q,
                           float* absmax) {
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

double mean_f32(const float* x, int64_t n) {
  return n ? double(pairwise_sum(x, n) / float(n)) : 0.0;
}

void nf4_dequantize_range(const NF4View& w, int64_t start, int64_t len, float* out) {
  int64_t i = start, end = start + len;
  while (i < end) {
    int64_t b = i / w.blocksize;
    int64_t be = std::min(end, (b + 1) * w.blocksize);
    float am = w.block_absmax(b);
    for (; i < be; i++) {
      uint8_t byte = w.packed[i >> 1];
      uint8_t q = (i & 1) ? (byte & 0x0f) : (byte >> 4);
      *out++ = w.code[q] * am;
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
    if (out_dtype == DType::BF16) for (int64_t i = 0; i < len; i++) o[i] = f32_to_bf16(buf[i]);
    else for (int64_t i = 0; i < len; i++) o[i] = f32_to_f16(buf[i]);
  }
}

}  // namespace cpu
}  // namespace plf
