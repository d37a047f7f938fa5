// Every transformer op family (embedding, norms, RoPE, attention, activations, losses, column
// slices, conversions), for code that uses several. Activations are f32 [rows, cols] row-major;
// index tensors arrive as int64. One header per family; see op_decl.h for how they are declared.
#pragma once
#include "embedding.h"
#include "norm.h"
#include "rope.h"
#include "attention.h"
#include "activation.h"
#include "loss.h"
#include "copy.h"
#include "convert.h"
