// NF4's CUDA kernels (native/cuda/nf4.cuh) on the emulator against the CPU reference
// (native/cpu/nf4.cpp), bit for bit: quantize (packed codes and absmax), and dequantize to f32 and
// bf16 through the vector kernel (8-value groups, absmax resolved into shared memory) and the scalar
// tail, with plain and double-quantized absmax. Exits 1 on any differing bit.
#include "emu.h"
#include "nf4.cuh"
#include <cstdio>
#include <cstring>

using namespace plf;
using namespace plf::cuda;
using emu::randn;

static void expect_same(const char* what, const void* a, const void* b, size_t bytes, long long n, long long bs) {
  bool same = std::memcmp(a, b, bytes) == 0;
  printf("%-34s n=%lld blocksize %lld: %s\n", what, n, bs, same ? "identical" : "DIFFERENT");
  emu::expect(same);
}

template <int Out>
static void dequant(const NF4View& w, std::vector<uint16_t>& out16, std::vector<float>& out32) {
  void* out = Out == 0 ? static_cast<void*>(out32.data()) : static_cast<void*>(out16.data());
  long long groups = w.blocksize % 8 == 0 ? w.numel / 8 : 0;  // as nf4.cu: the vector path, then the tail
  size_t smem = size_t((kU * kDT) / (w.blocksize / 8) + 2) * sizeof(float);
  if (groups) {
    unsigned blocks = unsigned((groups + kU * kDT - 1) / (kU * kDT));
    emu::launch(dim3(blocks), dim3(kDT), smem, [&] { dequant_vec_k<Out>(w, groups, out); });
  }
  if (w.numel > groups * 8)
    emu::launch(dim3(unsigned((w.numel - groups * 8 + 255) / 256)), dim3(256), 0,
                [&] { dequant_scalar_k<Out>(w, groups * 8, out); });
}

static void run(long long n, long long bs, bool double_quant) {
  auto x = randn(n);
  long long nb = (n + bs - 1) / bs;
  std::vector<uint8_t> packed((n + 1) / 2, 0), cpacked((n + 1) / 2, 0);
  std::vector<float> absmax(nb, NAN), cabsmax(nb);
  emu::launch(dim3(unsigned((nb * 32 + 255) / 256)), dim3(256), 0,
              [&] { quant_k(x.data(), n, bs, nb, packed.data(), absmax.data()); });
  cpu::nf4_quantize(x.data(), n, bs, cpacked.data(), cabsmax.data());
  expect_same("quantize: packed codes", packed.data(), cpacked.data(), packed.size(), n, bs);
  expect_same("quantize: absmax", absmax.data(), cabsmax.data(), absmax.size() * 4, n, bs);
  NF4View w;
  w.packed = cpacked.data();
  w.code = NF4_CODE;
  w.numel = n;
  w.blocksize = bs;
  std::vector<uint8_t> q(nb);
  std::vector<float> nested, dyn(256);
  if (double_quant) {  // as the binding does: absmax − mean, 8-bit dynamic map in nested blocks of 256
    w.offset = float(cpu::mean_f32(cabsmax.data(), nb));
    for (float& a : cabsmax) a -= w.offset;
    nested.resize((nb + 255) / 256);
    cpu::dynamic_map_signed(dyn.data());
    cpu::blockwise_quantize_u8(cabsmax.data(), nb, 256, dyn.data(), q.data(), nested.data());
    w.absmax_q = q.data();
    w.nested_absmax = nested.data();
    w.nested_code = dyn.data();
    w.nested_blocksize = 256;
  } else {
    w.absmax = cabsmax.data();
  }
  std::vector<float> y32(n, NAN), c32(n);
  std::vector<uint16_t> y16(n, 0xFFFF), c16(n);
  dequant<0>(w, y16, y32);
  cpu::nf4_dequantize(w, DType::F32, c32.data());
  expect_same(double_quant ? "dequantize f32 (double quant)" : "dequantize f32", y32.data(), c32.data(), n * 4, n, bs);
  dequant<1>(w, y16, y32);
  cpu::nf4_dequantize(w, DType::BF16, c16.data());
  expect_same(double_quant ? "dequantize bf16 (double quant)" : "dequantize bf16", y16.data(), c16.data(), n * 2, n,
              bs);
}

int main() {
  std::memcpy(kNF4, NF4_CODE, sizeof(kNF4));  // what upload_code() copies to the device
  run(64 * 37 + 6, 64, false);
  run(4096 + 8 * 3, 256, true);
  run(1000, 32, true);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all NF4 cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
