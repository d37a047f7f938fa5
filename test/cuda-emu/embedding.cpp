// Embedding lookup (an f32 or 16-bit table into activations of another dtype), its scatter-add
// backward with repeated ids, zero rows for ids outside the table, and the pooling row gather and its backward
// (native/cuda/embedding.cuh) on the emulator against the CPU reference (native/cpu/embedding.cpp). Exits 1 when one is
// off.
#include "emu.h"
#include "half.h"
#include "embedding.cuh"
#include "plf/embedding.h"
#include <cstdio>

using namespace plf;
using namespace plf::cuda;

template <typename F>
static void grid(long long n, F f) {
  emu::launch(dim3(unsigned((n + 255) / 256)), dim3(256), 0, f);
}

template <DType TT, DType TO>
static void run(long long vocab, long long n, long long dim) {
  emu::Buf table(TT, emu::randn(vocab * dim));
  auto tf = table.f32();
  std::vector<int64_t> ids(n);
  for (long long i = 0; i < n; i++) ids[i] = (i * 7) % vocab;  // repeats when n > vocab / gcd
  // the forward also meets ids outside the table (a recorded CUDA graph skips the host's check): zero rows
  std::vector<int64_t> fids = ids;
  fids[0] = -1;
  if (n > 2) fids[n / 2] = vocab;
  emu::Buf out(TO, emu::randn(n * dim));
  grid(n * dim, [&] { emb_fwd_k<TT, TO>(fids.data(), n, table.p(), vocab, dim, out.p()); });
  std::vector<float> c(n * dim, 1.0f);
  cpu::embedding_forward(fids.data(), n, tf.data(), vocab, dim, c.data());
  bool zeroed = true;  // the reference's own out-of-range row, so a kernel that leaves it alone cannot pass
  for (long long d = 0; d < dim; d++) zeroed = zeroed && c[d] == 0.0f;
  if (!zeroed) printf("embedding forward: the CPU reference did not zero an out-of-range id's row\n");
  emu::expect(zeroed);
  char what[96];
  snprintf(what, sizeof what, "embedding forward, %s table", emu::dname(TT));
  emu::expect_act(what, TO, out.f32(), c);
  // backward into an f32 table grad (atomics; sums of a few terms, order-free within 1e-6)
  emu::Buf dout(TO, emu::randn(n * dim));
  auto df = dout.f32();
  std::vector<float> dt(vocab * dim, 0.0f), cdt(vocab * dim, 0.0f);
  grid(n * dim, [&] { emb_bwd_k<TO>(ids.data(), n, dout.p(), dim, dt.data()); });
  cpu::embedding_backward(ids.data(), n, df.data(), dim, cdt.data());
  emu::expect_act("embedding backward (dtable f32)", DType::F32, dt, cdt);
  // gather rows x [B, T, H] at idx [B] and back
  const long long B = 3, T = 5, H = dim;
  emu::Buf x(TO, emu::randn(B * T * H)), dy(TO, emu::randn(B * H)), y(TO, B * H), dx(TO, B * T * H);
  auto xf = x.f32(), dyf = dy.f32();
  std::vector<int64_t> idx = {4, 0, 2};
  grid(B * H, [&] { gather_fwd_k<TO>(x.p(), idx.data(), B, T, H, y.p()); });
  std::vector<float> cy(B * H), cdx(B * T * H);
  cpu::gather_rows_forward(xf.data(), idx.data(), B, T, H, cy.data());
  emu::expect_act("gather rows forward", TO, y.f32(), cy);
  grid(B * T * H, [&] { gather_bwd_k<TO>(dy.p(), idx.data(), B, T, H, dx.p()); });
  cpu::gather_rows_backward(dyf.data(), idx.data(), B, T, H, cdx.data());
  emu::expect_act("gather rows backward", TO, dx.f32(), cdx);
}

int main() {
  run<DType::F32, DType::F32>(11, 30, 9);
  run<DType::F32, DType::BF16>(11, 30, 9);
  run<DType::BF16, DType::BF16>(5, 12, 16);
  run<DType::F16, DType::F32>(7, 9, 33);
  printf(emu::failures ? "FAILED: %d cases off\n" : "all embedding cases match\n", emu::failures);
  return emu::failures ? 1 : 0;
}
