// AdamW over a list of tensors in one call, numerically following torch.optim.AdamW.
#pragma once
#include "common.h"
#include "op_decl.h"

namespace plf {

struct AdamWParam {
  DType dtype = DType::F32;     // storage of the model's copy of the parameter
  void* param = nullptr;        // the model's parameter (updated)
  float* master = nullptr;      // f32 master weights; nullptr when param is f32
  const float* grad = nullptr;  // f32 gradient
  float* m = nullptr;           // f32 first moment
  float* v = nullptr;           // f32 second moment
  int64_t n = 0;
};

struct AdamWConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
  int64_t step = 1;            // the step number after this update (1 on the first call)
  double grad_scale = 1.0;     // gradients are divided by this (fp16 loss scaling)
  double max_grad_norm = 0.0;  // > 0: clip the global norm (after unscaling) as clip_grad_norm_
  // true: an inf/nan gradient skips the step (a first pass checks). false: torch's AdamW, which
  // updates regardless; on CUDA, without clipping or scaling, one pass then reads each tensor once.
  bool skip_nonfinite = true;
};

struct AdamWResult {
  double grad_norm = 0.0;  // global L2 norm of the unscaled gradients, before clipping
  bool skipped = false;    // a gradient was inf/nan: nothing was updated
};

// AdamW over a list of parameters (CUDA: device pointers, every tensor of the list updated by one
// multi-tensor launch).
#define PLF_OPTIM_OPS(X) X(AdamWResult, adamw_step, (AdamWParam * params, int64_t count, const AdamWConfig& cfg))
}  // namespace plf
PLF_DECLARE_OPS(PLF_OPTIM_OPS)
