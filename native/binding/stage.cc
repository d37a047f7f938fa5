// f16/bf16 activations staged through f32 for the kernels (see Op::in / out / inout in op.h), or
// handed to CUDA kernels in place (Op::ActArg).
#include "op.h"
#include "plf/memory.h"
#include "plf/ops.h"
#include <stdexcept>
#include <string>

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
  if (g_profiling) profile_staged(name, int64_t(n) * int64_t((read ? 6 : 0) + (write ? 6 : 0)));
  return p;
}

void Op::acts(std::initializer_list<const TensorImpl*> ts, bool mixed) const {
  const TensorImpl* first = nullptr;
  bool uniform = true;
  for (const TensorImpl* t : ts)
    if (t && !first)
      first = t;
    else if (t && t->dtype != first->dtype)
      uniform = false;
  act_dtype_ = first ? first->dtype : DType::F32;
  mixed_ = mixed;
  in_place_ = uniform || mixed;  // mixed: the kernel takes each tensor in its own dtype
  if (!in_place_) profile_mixed(name);
}

// in place when acts() found one dtype (a tensor acts() was not shown that differs is a binding
// bug, reported instead of read with the wrong element size); otherwise f32, staged if need be
Op::ActArg::operator CAct() const {
  Act a = *this;
  return {a.p, a.t};
}
Op::ActArg::operator Act() const {
  if (!t) return {};
  if (op->in_place_) {
    if (t->dtype != op->act_dtype_ && !op->mixed_)
      throw std::logic_error(std::string(op->name) + ": activation " + t->describe() + " was not declared to acts()");
    return {t->data(), t->dtype};
  }
  if (t->dtype == DType::F32) return {t->data(), t->dtype};
  return {op->stage(t, read, write), DType::F32};
}

void Op::write_back() const {
  for (const Staged& s : staged_)
    if (s.write && s.n) convert_on(s.t->device(), DType::F32, s.f32, s.t->dtype, s.t->data(), int64_t(s.n));
}

Op::~Op() {
  for (const Staged& s : staged_) mem_free(s.t->device(), s.f32, s.n * sizeof(float));
}

}  // namespace plf
