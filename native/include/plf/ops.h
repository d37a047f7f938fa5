// The transformer ops: embedding, norms, RoPE, attention, activations, losses, conversions.
// Activations are f32 [rows, cols] row-major; index tensors arrive as int64.
#pragma once
#include "common.h"

namespace plf {
namespace cpu {
#include "ops.inc"
}  // namespace cpu
namespace cuda {
#include "ops.inc"
}  // namespace cuda
}  // namespace plf
