// Bindings: CUDA graphs of plf's stream (plf/graph.h) — graph_begin(), graph_end() → handle,
// graph_abort(), graph_replay(handle), graph_destroy(handle), graph_nodes(handle). A handle the
// caller drops without graph_destroy is destroyed by the garbage collector.
#include "op.h"
#include "plf/graph.h"

namespace plf {

struct GraphHandle {
  cuda::Graph* g = nullptr;
};

static GraphHandle* handle_arg(const Napi::CallbackInfo& info, const char* name) {
  if (info.Length() < 1 || !info[0].IsExternal())
    throw_js(info.Env(), "PLF_ARG", std::string(name) + ": argument 0 must be a graph handle from graph_end()");
  GraphHandle* h = info[0].As<Napi::External<GraphHandle>>().Data();
  if (!h->g) throw_js(info.Env(), "PLF_ARG", std::string(name) + ": the graph was destroyed");
  return h;
}

static Napi::Value Begin(const Napi::CallbackInfo& info) {
  cuda::graph_begin();
  return info.Env().Undefined();
}
static Napi::Value End(const Napi::CallbackInfo& info) {
  auto* h = new GraphHandle{cuda::graph_end()};
  return Napi::External<GraphHandle>::New(info.Env(), h, [](Napi::Env, GraphHandle* p) {
    cuda::graph_destroy(p->g);
    delete p;
  });
}
static Napi::Value Abort(const Napi::CallbackInfo& info) {
  cuda::graph_abort();
  return info.Env().Undefined();
}
static Napi::Value Replay(const Napi::CallbackInfo& info) {
  cuda::graph_replay(handle_arg(info, "graph_replay")->g);
  return info.Env().Undefined();
}
static Napi::Value Destroy(const Napi::CallbackInfo& info) {
  GraphHandle* h = handle_arg(info, "graph_destroy");
  cuda::graph_destroy(h->g);
  h->g = nullptr;
  return info.Env().Undefined();
}
static Napi::Value Nodes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(cuda::graph_nodes(handle_arg(info, "graph_nodes")->g)));
}

void register_graph(Napi::Env env, Napi::Object exports) {
  export_fn(env, exports, "graph_begin", Begin);
  export_fn(env, exports, "graph_end", End);
  export_fn(env, exports, "graph_abort", Abort);
  export_fn(env, exports, "graph_replay", Replay);
  export_fn(env, exports, "graph_destroy", Destroy);
  export_fn(env, exports, "graph_nodes", Nodes);
}

}  // namespace plf
