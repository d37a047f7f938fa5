// f16/bf16 activations staged through f32 for the kernels (see Op::in / out / inout in op.h).
#include "op.h"
#include "plf/memory.h"
#include "plf/ops.h"

namespace plf {

static void convert_on(Device d, DType from, const void* src, DType to, void* dst, int64_t n) {
  if (d == Device::CUDA)
    cuda::convert(from, src, to, dst, n);
  else
    cpu::convert(from, src, to, dst, n);
}

float* Op::stage(TensorImpl* t, bool read, bool write) const {
  if (!t) return nullptr;
  if (t->dtype == DType::F32) return t->as<float>();
  size_t n = size_t(t->numel());
  float* p = static_cast<float*>(mem_alloc(t->device(), n * sizeof(float)));
  staged_.push_back({t, p, n, write});
  if (read && n) convert_on(t->device(), t->dtype, t->data(), DType::F32, p, int64_t(n));
  return p;
}

void Op::write_back() const {
  for (const Staged& s : staged_)
    if (s.write && s.n) convert_on(s.t->device(), DType::F32, s.f32, s.t->dtype, s.t->data(), int64_t(s.n));
}

Op::~Op() {
  for (const Staged& s : staged_) mem_free(s.t->device(), s.f32, s.n * sizeof(float));
}

}  // namespace plf
