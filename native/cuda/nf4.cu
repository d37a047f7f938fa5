// NF4 on CUDA: dequantize (each thread expands 16 packed bytes into 32 values with vector stores;
// a scalar kernel takes what is left), quantize (one warp per block of `blocksize` values), and
// the GEMV that decoding runs (one warp per output row, 16 packed bytes per lane per step).
// Results equal the CPU reference: the same two-rounding absmax and NF4 code products.
#include "plf/nf4.h"
#include "plf/linear.h"
#include "check.cuh"
#include "weight.cuh"

namespace plf {
namespace cuda {

static __device__ float kNF4[16];

static void upload_code() {
  static bool ready = false;
  if (ready) return;
  check(cudaMemcpyToSymbol(kNF4, NF4_CODE, sizeof(float) * 16), "nf4: upload NF4 code");
  ready = true;
}

__device__ inline void load_code(float* sh) {
  if (threadIdx.x < 16) sh[threadIdx.x] = kNF4[threadIdx.x];
  __syncthreads();
}

// Out: 0 f32, 1 bf16, 2 f16
template <int Out> __device__ inline void store(void* out, long long i, float v) {
  if constexpr (Out == 0) static_cast<float*>(out)[i] = v;
  else if constexpr (Out == 1) static_cast<uint16_t*>(out)[i] = f32_to_bf16(v);
  else static_cast<uint16_t*>(out)[i] = f32_to_f16(v);
}
template <int Out> __device__ inline uint16_t bits16(float v) { return Out == 1 ? f32_to_bf16(v) : f32_to_f16(v); }

template <int Out>
__global__ void dequant_scalar_k(NF4View w, long long from, void* out) {
  __shared__ float code[16];
  load_code(code);
  PLF_GRID_STRIDE(j, w.numel - from) {
    long long i = from + j;
    unsigned char q = w.packed[i >> 1];
    store<Out>(out, i, __fmul_rn(code[(i & 1) ? (q & 15) : (q >> 4)], nf4_absmax(w, i / w.blocksize)));
  }
}

template <int Out>
__global__ void dequant_vec_k(NF4View w, long long groups, void* out) {
  __shared__ float code[16];
  load_code(code);
  PLF_GRID_STRIDE(g, groups) {
    uint4 raw = reinterpret_cast<const uint4*>(w.packed)[g];
    float am = nf4_absmax(w, (g * 32) / w.blocksize);
    const unsigned char* b = reinterpret_cast<const unsigned char*>(&raw);
    float v[32];
#pragma unroll
    for (int j = 0; j < 16; j++) {
      v[2 * j] = __fmul_rn(code[b[j] >> 4], am);
      v[2 * j + 1] = __fmul_rn(code[b[j] & 15], am);
    }
    if constexpr (Out == 0) {
      float4* o = reinterpret_cast<float4*>(static_cast<float*>(out) + g * 32);
#pragma unroll
      for (int j = 0; j < 8; j++) o[j] = make_float4(v[4 * j], v[4 * j + 1], v[4 * j + 2], v[4 * j + 3]);
    } else {
      uint4* o = reinterpret_cast<uint4*>(static_cast<uint16_t*>(out) + g * 32);
#pragma unroll
      for (int j = 0; j < 4; j++) {
        uint32_t u[4];
#pragma unroll
        for (int e = 0; e < 4; e++) u[e] = uint32_t(bits16<Out>(v[8 * j + 2 * e])) | (uint32_t(bits16<Out>(v[8 * j + 2 * e + 1])) << 16);
        o[j] = make_uint4(u[0], u[1], u[2], u[3]);
      }
    }
  }
}

template <int Out>
static void dequant(const NF4View& w, void* out) {
  // the vector path needs 32-value groups inside one absmax block and 16-byte aligned pointers
  bool vec = w.blocksize % 32 == 0 && (reinterpret_cast<uintptr_t>(w.packed) & 15) == 0 && (reinterpret_cast<uintptr_t>(out) & 15) == 0;
  long long groups = vec ? w.numel / 32 : 0;
  if (groups) dequant_vec_k<Out><<<blocks_for(groups, 256), 256>>>(w, groups, out);
  if (w.numel > groups * 32) dequant_scalar_k<Out><<<blocks_for(w.numel - groups * 32, 256), 256>>>(w, groups * 32, out);
}

void nf4_dequantize(const NF4View& w, DType out_dtype, void* out) {
  upload_code();
  if (out_dtype == DType::F32) dequant<0>(w, out);
  else if (out_dtype == DType::BF16) dequant<1>(w, out);
  else dequant<2>(w, out);
  check_launch("nf4_dequantize");
}

// The CPU's rule: v = clamp(x·(1/absmax), -1, 1) (an all-zero block gives NaN, which clamps to
// -1: code 0), lo = the last code <= v, then the closer of lo and lo+1 (first on ties).
__device__ inline unsigned char nf4_code_of(float x, float inv, const float* code) {
  float v = fminf(1.0f, fmaxf(-1.0f, __fmul_rn(x, inv)));
  int lo = 0;
  for (int j = 1; j < 16; j++) lo += code[j] <= v;
  int hi = lo < 15 ? lo + 1 : 15;
  return (unsigned char)(fabsf(__fsub_rn(v, code[hi])) < fabsf(__fsub_rn(v, code[lo])) ? hi : lo);
}

// one warp per block of values: absmax by warp max, then each lane packs pairs
__global__ void quant_k(const float* x, long long n, long long bs, long long nblocks, uint8_t* packed, float* absmax) {
  __shared__ float code[16];
  load_code(code);
  long long blk = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x & 31;
  if (blk >= nblocks) return;
  long long s = blk * bs, e = s + bs < n ? s + bs : n;
  float m = 0.0f;
  for (long long i = s + lane; i < e; i += 32) m = fmaxf(m, fabsf(x[i]));
  m = warp_max(m);
  if (lane == 0) absmax[blk] = m;
  float inv = __fdiv_rn(1.0f, m);
  for (long long i = s + 2 * lane; i < e; i += 64) {
    unsigned char hi = nf4_code_of(x[i], inv, code);
    unsigned char lo = i + 1 < e ? nf4_code_of(x[i + 1], inv, code) : 0;
    packed[i >> 1] = (unsigned char)((hi << 4) | lo);
  }
}

void nf4_quantize(const float* x, int64_t n, int64_t blocksize, uint8_t* packed, float* absmax) {
  upload_code();
  if (blocksize % 2) throw std::runtime_error("nf4_quantize: blocksize must be even on CUDA");
  long long nblocks = (n + blocksize - 1) / blocksize;
  if (nblocks) quant_k<<<blocks_for(nblocks * 32, 256), 256>>>(x, n, blocksize, nblocks, packed, absmax);
  check_launch("nf4_quantize");
}

// y[r] = Σ_k W[r,k]·x[k] (+ bias): a warp streams its row 16 bytes per lane per step
__global__ void gemv_k(const float* x, NF4View w, long long N, long long K, const float* bias, float* y) {
  __shared__ float code[16];
  load_code(code);
  long long r = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x & 31;
  if (r >= N) return;
  const long long row0 = r * K;  // element index of the row's start (even: K is even on this path)
  float acc = 0.0f;
  for (long long c = lane * 32LL; c < K; c += 32LL * 32) {
    uint4 raw = *reinterpret_cast<const uint4*>(w.packed + ((row0 + c) >> 1));
    const unsigned char* b = reinterpret_cast<const unsigned char*>(&raw);
    float am = nf4_absmax(w, (row0 + c) / w.blocksize);
    const float4* xv = reinterpret_cast<const float4*>(x + c);
    float part = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; j++) {
      float4 xx = __ldg(xv + j);
      part += code[b[2 * j] >> 4] * xx.x + code[b[2 * j] & 15] * xx.y + code[b[2 * j + 1] >> 4] * xx.z + code[b[2 * j + 1] & 15] * xx.w;
    }
    acc += part * am;
  }
  acc = warp_sum(acc);
  if (lane == 0) y[r] = bias ? acc + bias[r] : acc;
}

// the GEMV's conditions: rows of whole 32-value groups inside absmax blocks, aligned x
bool nf4_gemv_ok(const NF4View& w, int64_t K, const float* x) {
  return K % 32 == 0 && w.blocksize % 32 == 0 && (reinterpret_cast<uintptr_t>(w.packed) & 15) == 0 &&
         (reinterpret_cast<uintptr_t>(x) & 15) == 0;
}

void nf4_gemv(const float* x, const NF4View& w, int64_t N, int64_t K, const float* bias, float* y) {
  upload_code();
  if (N) gemv_k<<<blocks_for(N * 32, 256), 256>>>(x, w, N, K, bias, y);
  check_launch("nf4_gemv");
}

}  // namespace cuda
}  // namespace plf
