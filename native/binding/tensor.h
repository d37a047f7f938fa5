// The N-API face of a tensor: a handle to addon-owned memory (host or device) plus dtype and
// shape. Views share the storage; memory is freed when the last handle lets go (dispose() or GC).
#pragma once
#include <napi.h>
#include <memory>
#include <string>
#include <vector>
#include "plf/memory.h"

namespace plf {

struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;
  Device dev = Device::CPU;
  Storage(Device d, size_t n) : bytes(n), dev(d) { ptr = mem_alloc(d, n); }
  ~Storage() { mem_free(dev, ptr, bytes); }
};

class TensorImpl : public Napi::ObjectWrap<TensorImpl> {
 public:
  // The NativeTensor class of this environment: the addon loads once per thread (the main
  // thread and each worker, e.g. the server's model thread), each with its own class.
  static Napi::Function Ctor(Napi::Env env);
  static void Init(Napi::Env env, Napi::Object exports);
  explicit TensorImpl(const Napi::CallbackInfo& info);

  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes into storage
  DType dtype = DType::F32;
  std::vector<int64_t> shape;

  int64_t numel() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  Device device() const { return storage ? storage->dev : Device::CPU; }
  bool disposed() const { return !storage; }
  void* data() const { return static_cast<char*>(storage->ptr) + offset; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data());
  }
  std::string describe() const;  // e.g. "f32[3,4]" or "bf16[8] on cuda"

  // A new JS tensor object (allocated, uninitialised unless zero).
  static Napi::Object Create(Napi::Env env, DType dt, const std::vector<int64_t>& shape, Device dev, bool zero);

 private:
  template <Napi::Value (TensorImpl::*M)(const Napi::CallbackInfo&)>
  Napi::Value Guarded(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value CopyFromArray(const Napi::CallbackInfo& info);
  Napi::Value CopyToArray(const Napi::CallbackInfo& info);
  Napi::Value CopyFrom(const Napi::CallbackInfo& info);
  Napi::Value Zero(const Napi::CallbackInfo& info);
  Napi::Value View(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value GetDType(const Napi::CallbackInfo& info);
  Napi::Value GetShape(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value SharesStorage(const Napi::CallbackInfo& info);
};

std::string shape_str(const std::vector<int64_t>& s);

}  // namespace plf
