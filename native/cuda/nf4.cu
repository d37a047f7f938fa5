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
#include <algorithm>
#include <string>

namespace plf {
namespace cuda {

void nf4_upload_code() {
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
  if (groups)
    dequant_vec_k<Out><<<blocks_for((groups + kU * kDT - 1) / (kU * kDT), 1), kDT, smem, stream()>>>(w, groups, out);
  if (w.numel > groups * 8)
    dequant_scalar_k<Out><<<blocks_for(w.numel - groups * 8, 256), 256, 0, stream()>>>(w, groups * 8, out);
}

void nf4_dequantize(const NF4View& w, DType out_dtype, void* out) {
  nf4_upload_code();
  if (out_dtype == DType::F32)
    dequant<0>(w, out);
  else if (out_dtype == DType::BF16)
    dequant<1>(w, out);
  else
    dequant<2>(w, out);
  check_launch("nf4_dequantize");
}

void nf4_quantize(const float* x, int64_t n, int64_t blocksize, uint8_t* packed, float* absmax) {
  nf4_upload_code();
  if (blocksize % 2) throw std::runtime_error("nf4_quantize: blocksize must be even on CUDA");
  long long nblocks = (n + blocksize - 1) / blocksize;
  if (nblocks) quant_k<<<blocks_for(nblocks * 32, 256), 256, 0, stream()>>>(x, n, blocksize, nblocks, packed, absmax);
  check_launch("nf4_quantize");
}

// y[r] = Σ_k W[r,k]·x[k] (+ bias). Each warp takes R rows at once, so every x value read (from L1)
// serves R weight rows; a lane handles 32 columns (16 packed bytes per row) per step. The rows'
// absmax values are first resolved into the warp's shared memory (lanes side by side), then S
// steps × R rows of 16-byte loads are issued before any arithmetic.
// the GEMV's conditions: rows of whole 32-value groups inside absmax blocks, aligned x
bool nf4_gemv_ok(const NF4View& w, int64_t K, const void* x) {
  return K % 32 == 0 && w.blocksize % 32 == 0 && K % w.blocksize == 0 && K / w.blocksize <= 512 &&
         (reinterpret_cast<uintptr_t>(w.packed) & 15) == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0;
}

// the decoding GEMVs' launch: 4 rows share each x read; 16 loads of 16 bytes per lane in flight
constexpr int kGemvR = 4, kGemvS = 4, kGemvThreads = 128;
// each warp's absmax values for its R rows of nb blocks
static size_t gemv_smem(long long nb) { return size_t(kGemvThreads / 32) * kGemvR * size_t(nb) * sizeof(float); }

static void check_rows(int64_t M, const char* op) {
  if (M < 1 || M > kNF4GemvRows)
    throw std::runtime_error(std::string(op) + ": 1 to " + std::to_string(kNF4GemvRows) + " rows of x");
}

// M rows of x: by_rows' bucket of accumulators per warp; each row's sums are the one-row kernel's
// bit for bit
void nf4_gemv(CAct x, const NF4View& w, int64_t N, int64_t K, const float* bias, Act y, bool accumulate,
              const GemvLora& lora, int64_t M) {
  nf4_upload_code();
  check_rows(M, "nf4_gemv");
  long long warps = (N + kGemvR - 1) / kGemvR;
  size_t smem = gemv_smem(K / w.blocksize);
  const unsigned grid = blocks_for(warps * 32, kGemvThreads);
  if (N)
    by_dtype(x.t, [&](auto t) {
      by_rows(M, [&](auto mb, auto s) {
        gemv_k<kGemvR, decltype(s)::value, PLF_DT(t), decltype(mb)::value>
            <<<grid, kGemvThreads, smem, stream()>>>(x.p, w, N, K, bias, y.p, accumulate, lora, M);
      });
    });
  check_launch("nf4_gemv");
}

// The adapters' xa [M, r] = x·Aᵀ of one GEMV launch, into one scratch buffer (one lora_xa launch);
// each GemvLora with an A gets its xa pointed there
struct LoraXa {
  Scratch<float> buf;
  LoraXa(CAct x, int64_t M, int64_t K, GemvLora* ls, int n) : buf(size_t(M * total_rank(ls, n))) {
    const float* as[3];
    int64_t rs[3];
    float* outs[3];
    int m = 0;
    float* at = buf.get();
    for (int i = 0; i < n; i++)
      if (ls[i].a) {
        ls[i].xa = at;
        as[m] = ls[i].a, rs[m] = ls[i].r, outs[m++] = at;
        at += M * ls[i].r;
      }
    if (m) lora_xa(x, M, K, as, rs, outs, m);
  }
  static int64_t total_rank(const GemvLora* ls, int n) {
    int64_t r = 0;
    for (int i = 0; i < n; i++) r += ls[i].a ? ls[i].r : 0;
    return r;
  }
};

// up to three GEMVs over one x (q/k/v, gate/up at decoding) in one launch; every weight nf4_gemv_ok
void nf4_gemv_multi(CAct x, const NF4View* ws, const int64_t* Ns, const float* const* biases, void* const* ys, int n,
                    int64_t K, bool accumulate, const GemvLora* loras, int64_t M) {
  nf4_upload_code();
  if (n < 1 || n > 3) throw std::runtime_error("nf4_gemv_multi: 1 to 3 weights per launch");
  check_rows(M, "nf4_gemv_multi");
  GemvLora ls[3];
  for (int i = 0; i < n; i++) ls[i] = loras ? loras[i] : GemvLora{};
  LoraXa xa(x, M, K, ls, n);
  GemvSegs segs;
  segs.n = n;
  long long groups = 0, max_nb = 1;
  for (int i = 0; i < n; i++) {
    segs.s[i] = GemvSeg{ws[i], Ns[i], biases[i], ys[i], ls[i]};
    groups += (Ns[i] + kGemvR - 1) / kGemvR;
    max_nb = std::max<long long>(max_nb, K / ws[i].blocksize);
  }
  size_t smem = gemv_smem(max_nb);
  if (groups)
    by_dtype(x.t, [&](auto t) {
      by_rows(M, [&](auto mb, auto s) {
        gemv_multi_k<kGemvR, decltype(s)::value, PLF_DT(t), decltype(mb)::value>
            <<<blocks_for(groups * 32, kGemvThreads), kGemvThreads, smem, stream()>>>(x.p, segs, K, max_nb, accumulate,
                                                                                      M);
      });
    });
  check_launch("nf4_gemv_multi");
}

// h [M, N] = silu(Wg·x)·(Wu·x) in one launch (decoding's gate/up and SwiGLU); both weights nf4_gemv_ok
void nf4_gemv_swiglu(CAct x, const NF4View& wg, const NF4View& wu, int64_t N, int64_t K, Act h, const GemvLora& lg,
                     const GemvLora& lu, int64_t M) {
  nf4_upload_code();
  check_rows(M, "nf4_gemv_swiglu");
  GemvLora ls[2] = {lg, lu};
  LoraXa xa(x, M, K, ls, 2);
  long long warps = (N + kGemvR - 1) / kGemvR, nb = std::max<long long>(K / wg.blocksize, K / wu.blocksize);
  size_t smem = gemv_smem(nb);
  if (N)
    by_dtype(x.t, [&](auto t) {
      by_rows(M, [&](auto mb, auto s) {
        gemv_swiglu_k<kGemvR, decltype(s)::value, PLF_DT(t), decltype(mb)::value>
            <<<blocks_for(warps * 32, kGemvThreads), kGemvThreads, smem, stream()>>>(x.p, wg, wu, N, K, nb, h.p, ls[0],
                                                                                     ls[1], M);
      });
    });
  check_launch("nf4_gemv_swiglu");
}

}  // namespace cuda
}  // namespace plf
