// Parsing a weight argument: a 2-D f32/f16/bf16 tensor or an NF4 weight object.
#pragma once
#include "op.h"
#include "plf/linear.h"

namespace plf {
NF4View nf4_arg(const Op& op, Napi::Object o, const char* arg, Device* dev);
WeightView weight_arg(const Op& op, size_t i, const char* arg, Device* dev);
}  // namespace plf
