// The machinery of the op lists: each op family header (attention.h, norm.h, …) defines
// PLF_<FAMILY>_OPS(X) with one X(return type, name, (parameters)) per op and declares it here,
// once, for the CPU reference (namespace plf::cpu) and the CUDA kernels (namespace plf::cuda).
// Activation parameters are ActIn / ActOut: f32 pointers for the CPU, CAct / Act on CUDA (act.h).
// native/cuda/stub.cpp expands the same lists into the entry points of a build without CUDA.
#pragma once
#include "common.h"
#include "act.h"

#define PLF_DECLARE_ONE(ret, name, params) ret name params;
#define PLF_DECLARE_OPS(LIST) \
  namespace plf {             \
  namespace cpu {             \
  LIST(PLF_DECLARE_ONE)       \
  }                           \
  namespace cuda {            \
  LIST(PLF_DECLARE_ONE)       \
  }                           \
  }
