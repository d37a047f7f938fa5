// CUDA graphs of plf's stream (plf/graph.h). Capture mode is relaxed: the caching allocator may
// call cudaMalloc while a step is recorded (a first decode step at a new batch shape).
#include "plf/graph.h"
#include "plf/cublaslt.h"
#include "check.cuh"
#include <string>

namespace plf {
namespace cuda {

struct Graph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  int64_t pool = 0;
  size_t nodes = 0;
};

// the NF4 code tables' one-time uploads (gemm.cu, nf4.cu): cudaMemcpyToSymbol runs on the legacy
// stream, which would break a capture, so they happen before one starts
void upload_nf4_code();
void nf4_upload_code();

namespace {
int64_t g_pool = 0;  // the pool of the recording under way (only its thread records)

void discard() {
  cudaGraph_t g = nullptr;
  cudaStreamEndCapture(stream(), &g);  // also ends a capture an illegal call invalidated
  cudaGetLastError();
  if (g) cudaGraphDestroy(g);
  pool_end();
  pool_release(g_pool);
  g_pool = 0;
}
}  // namespace

void graph_begin() {
  cudaStream_t s = stream();  // before the pool: creating the stream is not recorded
  upload_nf4_code();
  nf4_upload_code();
  lt::info();  // cuBLASLt's handle and workspace, made at its first use, not inside the graph
  sm_count();  // the device query behind launch shapes (decoding's attention), not inside the graph
  g_pool = pool_begin();
  cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed);
  if (e != cudaSuccess) {
    cudaGetLastError();
    pool_end();
    pool_release(g_pool);
    g_pool = 0;
    throw std::runtime_error(std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(e));
  }
}

void graph_abort() {
  if (g_pool && capturing()) discard();
}

Graph* graph_end() {
  if (!g_pool || !capturing()) throw std::runtime_error("graph_end: no CUDA graph is being recorded on this thread");
  Graph* out = new Graph;
  out->pool = g_pool;
  cudaError_t e = cudaStreamEndCapture(stream(), &out->graph);
  pool_end();
  g_pool = 0;
  if (e == cudaSuccess) e = cudaGraphGetNodes(out->graph, nullptr, &out->nodes);
  if (e == cudaSuccess) e = cudaGraphInstantiate(&out->exec, out->graph, 0);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (out->graph) cudaGraphDestroy(out->graph);
    pool_release(out->pool);
    delete out;
    throw std::runtime_error(std::string("recording a CUDA graph failed: ") + cudaGetErrorString(e) +
                             " (an op in the step needs the host; decode without a graph: PLF_CUDA_GRAPH=0)");
  }
  return out;
}

void graph_replay(Graph* g) { check(cudaGraphLaunch(g->exec, stream()), "cudaGraphLaunch"); }

void graph_destroy(Graph* g) {
  if (!g) return;
  cudaStreamSynchronize(stream());  // a queued replay still uses the pool
  cudaGetLastError();
  if (g->exec) cudaGraphExecDestroy(g->exec);
  if (g->graph) cudaGraphDestroy(g->graph);
  pool_release(g->pool);
  delete g;
}

int64_t graph_nodes(const Graph* g) { return int64_t(g->nodes); }

}  // namespace cuda
}  // namespace plf
