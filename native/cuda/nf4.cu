// NF4 on CUDA: dequantize (each thread expands 4 packed bytes into 8 values per step, coalesced
// vector stores; a scalar kernel takes what is left), quantize (one warp per block of `blocksize` values), and
// the GEMV that decoding runs (one warp per output row, 16 packed bytes per lane per step).
// Results equal the CPU reference: the same two-rounding absmax and NF4 code products.
#include "plf/nf4.h"
#include "plf/linear.h"
#include "check.cuh"
#include "weight.cuh"
#include "nf4.cuh"
#include "act.cuh"

namespace plf {
namespace cuda {

static void upload_code() {
  static bool ready = false;
  if (ready) return;
  check(cudaMemcpyToSymbol(kNF4, NF4_CODE, sizeof(float) * 16), "nf4: upload NF4 code");
  ready = true;
}

template <int Out>
static void dequant(const NF4View& w, void* out) {
  // the vector path needs 8-value groups inside one absmax block and aligned pointers
  bool vec = w.blocksize % 8 == 0 && (reinterpret_cast<uintptr_t>(w.packed) & 3) == 0 &&
             (reinterpret_cast<uintptr_t>(out) & 15) == 0;
  long long groups = vec ? w.numel / 8 : 0;
  // shared memory: the absmax blocks one chunk of kU·256 groups spans (blocksize >= 8)
  size_t smem = size_t((kU * kDT) / (w.blocksize / 8) + 2) * sizeof(float);
  if (groups) dequant_vec_k<Out><<<blocks_for((groups + kU * kDT - 1) / (kU * kDT), 1), kDT, smem>>>(w, groups, out);
  if (w.numel > groups * 8) dequant_scalar_k<Out><<<blocks_for(w.numel - groups * 8, 256), 256>>>(w, groups * 8, out);
}

void nf4_dequantize(const NF4View& w, DType out_dtype, void* out) {
  upload_code();
  if (out_dtype == DType::F32)
    dequant<0>(w, out);
  else if (out_dtype == DType::BF16)
    dequant<1>(w, out);
  else
    dequant<2>(w, out);
  check_launch("nf4_dequantize");
}

void nf4_quantize(const float* x, int64_t n, int64_t blocksize, uint8_t* packed, float* absmax) {
  upload_code();
  if (blocksize % 2) throw std::runtime_error("nf4_quantize: blocksize must be even on CUDA");
  long long nblocks = (n + blocksize - 1) / blocksize;
  if (nblocks) quant_k<<<blocks_for(nblocks * 32, 256), 256>>>(x, n, blocksize, nblocks, packed, absmax);
  check_launch("nf4_quantize");
}

// y[r] = Σ_k W[r,k]·x[k] (+ bias). Each warp takes R rows at once, so every x value read (from L1)
// serves R weight rows; a lane handles 32 columns (16 packed bytes per row) per step. The rows'
// absmax values are first resolved into the warp's shared memory (lanes side by side), then S
// steps × R rows of 16-byte loads are issued before any arithmetic.
// four consecutive x values (16-byte aligned for f32, 8-byte for 16-bit types)
template <DType T>
__device__ inline float4 load_x4(const void* x, long long i) {
  if constexpr (T == DType::F32) {
    return __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(x) + i));
  } else {
    uint2 u = __ldg(reinterpret_cast<const uint2*>(static_cast<const uint16_t*>(x) + i));
    auto f = [](uint32_t h) { return T == DType::BF16 ? bf16_to_f32(uint16_t(h)) : f16_to_f32(uint16_t(h)); };
    return make_float4(f(u.x & 0xffffu), f(u.x >> 16), f(u.y & 0xffffu), f(u.y >> 16));
  }
}

// x and y of dtype T (in place)
template <int R, int S, DType T>
__global__ void gemv_k(const void* __restrict__ x, NF4View w, long long N, long long K, const float* bias, void* y) {
  __shared__ float code[16];
  extern __shared__ float ams[];  // [warps][R][K / blocksize]
  load_code(code);
  const int lane = threadIdx.x & 31, wid = threadIdx.x / 32;
  const long long nb = K / w.blocksize;  // absmax blocks per row (K % blocksize == 0 on this path)
  float* am = ams + (long long)wid * R * nb;
  const long long warps = (long long)gridDim.x * (blockDim.x / 32);
  for (long long r0 = ((long long)blockIdx.x * (blockDim.x / 32) + wid) * R; r0 < N; r0 += warps * R) {
    __syncwarp();
    // 8 entries per lane at a time, each lookup stage issued for all 8 before the next depends on it
    for (long long j0 = 0; j0 < R * nb; j0 += 32 * 8) {
      long long blk[8];
      float v[8];
#pragma unroll
      for (int u = 0; u < 8; u++) {
        long long j = j0 + u * 32 + lane, row = r0 + j / nb < N ? r0 + j / nb : r0;
        blk[u] = j < R * nb ? row * nb + j % nb : -1;
      }
      if (w.absmax) {
#pragma unroll
        for (int u = 0; u < 8; u++) v[u] = blk[u] >= 0 ? __ldg(w.absmax + blk[u]) : 0.0f;
      } else {
        unsigned char q[8];
        float na[8];
#pragma unroll
        for (int u = 0; u < 8; u++) {
          q[u] = blk[u] >= 0 ? __ldg(w.absmax_q + blk[u]) : 0;
          na[u] = blk[u] >= 0 ? __ldg(w.nested_absmax + blk[u] / w.nested_blocksize) : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < 8; u++) v[u] = __fadd_rn(__fmul_rn(__ldg(w.nested_code + q[u]), na[u]), w.offset);
      }
#pragma unroll
      for (int u = 0; u < 8; u++)
        if (blk[u] >= 0) am[j0 + u * 32 + lane] = v[u];
    }
    __syncwarp();
    float acc[R];
#pragma unroll
    for (int i = 0; i < R; i++) acc[i] = 0.0f;
    for (long long c0 = lane * 32LL; c0 < K; c0 += 32LL * 32 * S) {
      uint4 raw[S][R];
#pragma unroll
      for (int st = 0; st < S; st++)
#pragma unroll
        for (int i = 0; i < R; i++) {
          long long c = c0 + 32LL * 32 * st, e0 = (r0 + i < N ? r0 + i : r0) * K + c;
          raw[st][i] = c < K ? __ldg(reinterpret_cast<const uint4*>(w.packed + (e0 >> 1))) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
      for (int st = 0; st < S; st++) {
        long long c = c0 + 32LL * 32 * st;
        if (c >= K) break;
        float part[R];
#pragma unroll
        for (int i = 0; i < R; i++) part[i] = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++) {
          float4 xx = load_x4<T>(x, c + 4 * j);
#pragma unroll
          for (int i = 0; i < R; i++) {
            uint32_t word = (&raw[st][i].x)[j >> 1] >> (16 * (j & 1));
            unsigned b0 = word & 255u, b1 = (word >> 8) & 255u;
            part[i] += code[b0 >> 4] * xx.x + code[b0 & 15] * xx.y + code[b1 >> 4] * xx.z + code[b1 & 15] * xx.w;
          }
        }
#pragma unroll
        for (int i = 0; i < R; i++) acc[i] += part[i] * am[i * nb + c / w.blocksize];
      }
    }
#pragma unroll
    for (int i = 0; i < R; i++) {
      float v = warp_sum(acc[i]);
      if (lane == 0 && r0 + i < N) st<T>(y, r0 + i, bias ? v + bias[r0 + i] : v);
    }
  }
}

// the GEMV's conditions: rows of whole 32-value groups inside absmax blocks, aligned x
bool nf4_gemv_ok(const NF4View& w, int64_t K, const void* x) {
  return K % 32 == 0 && w.blocksize % 32 == 0 && K % w.blocksize == 0 && K / w.blocksize <= 512 &&
         (reinterpret_cast<uintptr_t>(w.packed) & 15) == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0;
}

void nf4_gemv(CAct x, const NF4View& w, int64_t N, int64_t K, const float* bias, Act y) {
  upload_code();
  constexpr int R = 4, S = 4, kThreads = 128;  // 4 rows share each x read; 16 loads of 16 bytes per lane in flight
  long long warps = (N + R - 1) / R;
  size_t smem = size_t(kThreads / 32) * R * size_t(K / w.blocksize) * sizeof(float);
  if (N)
    by_dtype(x.t, [&](auto t) {
      gemv_k<R, S, PLF_DT(t)><<<blocks_for(warps * 32, kThreads), kThreads, smem>>>(x.p, w, N, K, bias, y.p);
    });
  check_launch("nf4_gemv");
}

}  // namespace cuda
}  // namespace plf
