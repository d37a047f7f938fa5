// CUDA graphs of plf's stream: a decode step is recorded once and replayed per token, so a token
// costs one launch from the host instead of ~15 op calls per layer (see docs/ARCHITECTURE.md).
// While a graph is recorded, kernels are queued into it, not run; memory comes from the graph's
// own pool (memory.cu) and any host↔device copy fails (the step's inputs live in device tensors
// the caller writes before each replay). CPU builds: every call throws.
#pragma once
#include <cstdint>

namespace plf {
namespace cuda {
struct Graph;
// starts recording plf's stream on this thread; throws when a recording is under way already
void graph_begin();
// ends the recording and instantiates it; on failure (an op failed or broke the capture) the
// recording is discarded, its pool released, and the error thrown
Graph* graph_end();
// discards a recording in progress (after an op threw inside it)
void graph_abort();
// queues the recorded step on plf's stream (asynchronous, like any op)
void graph_replay(Graph* g);
// waits for the device, then frees the graph and hands its memory pool back
void graph_destroy(Graph* g);
int64_t graph_nodes(const Graph* g);
// true while this thread records a graph (ops then skip host-side checks of device arrays)
bool capturing();
// allocator side (memory.cu): the pool of the graph being recorded
int64_t pool_begin();
void pool_end();
void pool_release(int64_t id);
}  // namespace cuda
}  // namespace plf
