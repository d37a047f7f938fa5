// Optional cuBLASLt for the tensor-core matmuls (bf16 or f16 operands, f32 accumulation, f32 output
// or the operands' 16-bit type). It is opened with dlopen when the machine has it and never linked: the development and
// CI machines have nvcc but no cuBLAS, and our own kernels (linear.cu) remain the fallback. Only the entry points
// called here are declared, with the ABI values of cublasLt.h (enums are int-sized; the algo is 64 opaque bytes).
#include "plf/cublaslt.h"
#include "check.cuh"
#include <dlfcn.h>
#include <glob.h>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace plf {
namespace cuda {
namespace lt {
namespace {

using Status = int;  // cublasStatus_t; 0 = CUBLAS_STATUS_SUCCESS
using Handle = void*;
using Desc = void*;
using Layout = void*;
using Pref = void*;
struct Algo {
  uint64_t data[8];
};
struct Heuristic {
  Algo algo;
  size_t workspace;
  Status state;
  float waves;
  int reserved[4];
};
constexpr int kCompute32F = 68;  // CUBLAS_COMPUTE_32F
constexpr int kDescTransA = 3, kDescTransB = 4;
constexpr int kPrefMaxWorkspace = 1;  // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
constexpr int kOpN = 0, kOpT = 1;
constexpr size_t kWorkspace = size_t(32) << 20;

struct Api {
  Status (*create)(Handle*);
  Status (*desc_create)(Desc*, int, int);
  Status (*desc_set)(Desc, int, const void*, size_t);
  Status (*layout_create)(Layout*, int, uint64_t, uint64_t, int64_t);
  Status (*pref_create)(Pref*);
  Status (*pref_set)(Pref, int, const void*, size_t);
  Status (*heuristic)(Handle, Desc, Layout, Layout, Layout, Layout, Pref, int, Heuristic*, int*);
  Status (*matmul)(Handle, Desc, const void*, const void*, Layout, const void*, Layout, const void*, const void*,
                   Layout, void*, Layout, const Algo*, void*, size_t, cudaStream_t);
  size_t (*version)();
};

struct Plan {
  bool ok = false;
  Desc desc = nullptr;
  Layout a = nullptr, b = nullptr, c = nullptr;
  Algo algo{};
};
using Key = std::tuple<long long, long long, long long, bool, long long, bool, int, int>;

std::mutex g_mu;
bool g_tried = false, g_loaded = false, g_enabled = true;
std::string g_library, g_reason = "not loaded yet";
size_t g_version = 0;
Api g_api{};
Handle g_handle = nullptr;
Pref g_pref = nullptr;
void* g_workspace = nullptr;
std::map<Key, Plan> g_plans;

template <typename F>
bool sym(void* lib, const char* name, F& f) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  return f != nullptr;
}

void load_locked() {
  if (g_tried) return;
  g_tried = true;
  const char* env = std::getenv("PLF_CUBLASLT");
  if (env && std::string(env) == "0") {
    g_reason = "disabled by PLF_CUBLASLT=0";
    return;
  }
  std::vector<std::string> names;
  if (env && *env && std::string(env) != "1") names.push_back(env);  // a path to the library
  for (const char* n :
       {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so", "/usr/local/cuda/lib64/libcublasLt.so.13",
        "/usr/local/cuda/lib64/libcublasLt.so.12", "/usr/local/cuda/lib64/libcublasLt.so",
        "/usr/local/cuda-13.0/lib64/libcublasLt.so.13", "/usr/local/cuda/targets/x86_64-linux/lib/libcublasLt.so.13",
        "/usr/local/cuda/targets/sbsa-linux/lib/libcublasLt.so.13"})
    names.push_back(n);
  // the CUDA wheels pip installs beside torch (no toolkit on the loader path, as on the GPU machines):
  // <site-packages>/nvidia/cu13/lib (CUDA 13) and nvidia/cublas/lib (CUDA 12), in venvs, conda and the system
  std::vector<std::string> roots = {"/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
                                    "/usr/lib/python3*/dist-packages",       "/usr/lib/python3/dist-packages",
                                    "/opt/conda/lib/python3*/site-packages", "/root/.local/lib/python3*/site-packages"};
  for (const char* v : {"VIRTUAL_ENV", "CONDA_PREFIX"})
    if (const char* d = std::getenv(v)) roots.insert(roots.begin(), std::string(d) + "/lib/python3*/site-packages");
  if (const char* h = std::getenv("HOME")) roots.push_back(std::string(h) + "/.local/lib/python3*/site-packages");
  for (const auto& r : roots)
    for (const char* sub : {"/nvidia/cu13/lib/libcublasLt.so.13", "/nvidia/cublas/lib/libcublasLt.so.12"}) {
      glob_t g{};
      if (glob((r + sub).c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++) names.push_back(g.gl_pathv[i]);
      globfree(&g);
    }
  void* lib = nullptr;
  for (const auto& n : names)
    if ((lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL))) {
      g_library = n;
      break;
    }
  if (!lib) {
    g_reason = "libcublasLt not found (optional: our own tensor-core kernels run instead)";
    return;
  }
  Api& a = g_api;
  bool ok = sym(lib, "cublasLtCreate", a.create) && sym(lib, "cublasLtMatmulDescCreate", a.desc_create) &&
            sym(lib, "cublasLtMatmulDescSetAttribute", a.desc_set) &&
            sym(lib, "cublasLtMatrixLayoutCreate", a.layout_create) &&
            sym(lib, "cublasLtMatmulPreferenceCreate", a.pref_create) &&
            sym(lib, "cublasLtMatmulPreferenceSetAttribute", a.pref_set) &&
            sym(lib, "cublasLtMatmulAlgoGetHeuristic", a.heuristic) && sym(lib, "cublasLtMatmul", a.matmul) &&
            sym(lib, "cublasLtGetVersion", a.version);
  if (!ok) {
    g_reason = g_library + " lacks a cuBLASLt entry point we call";
    return;
  }
  g_version = a.version();
  if (a.create(&g_handle) != 0 || a.pref_create(&g_pref) != 0) {
    g_reason = g_library + ": cublasLtCreate failed";
    return;
  }
  size_t ws = kWorkspace;
  if (a.pref_set(g_pref, kPrefMaxWorkspace, &ws, sizeof ws) != 0) {
    g_reason = g_library + ": setting the workspace preference failed";
    return;
  }
  try {
    g_workspace = malloc_device(kWorkspace);
  } catch (const std::exception& e) {
    g_reason = std::string("cuBLASLt workspace: ") + e.what();
    return;
  }
  g_loaded = true;
  g_reason = "";
}

// C (col-major N×M, ld ldc) = W-side (m = N) × A-side (n = M): row-major C[M,N] = A[M,K]·op(W).
Plan make_plan(long long M, long long N, long long K, bool trans, long long ldc, cudaDataType_t e, cudaDataType_t ct) {
  Plan p;
  const Api& a = g_api;
  int ta = trans ? kOpT : kOpN, tb = kOpN;
  if (a.desc_create(&p.desc, kCompute32F, CUDA_R_32F) != 0) return p;
  // a setter that fails leaves the plan unusable (our kernel runs), never a wrong transpose
  if (a.desc_set(p.desc, kDescTransA, &ta, sizeof ta) != 0 || a.desc_set(p.desc, kDescTransB, &tb, sizeof tb) != 0)
    return p;
  long long wr = trans ? K : N, wc = trans ? N : K;  // W row-major = its transpose column-major
  if (a.layout_create(&p.a, e, uint64_t(wr), uint64_t(wc), wr) != 0) return p;
  if (a.layout_create(&p.b, e, uint64_t(K), uint64_t(M), K) != 0) return p;
  if (a.layout_create(&p.c, ct, uint64_t(N), uint64_t(M), ldc) != 0) return p;
  Heuristic h{};
  int found = 0;
  if (a.heuristic(g_handle, p.desc, p.a, p.b, p.c, p.c, g_pref, 1, &h, &found) != 0 || found < 1) return p;
  p.algo = h.algo;
  p.ok = true;
  return p;
}

// The plan for one problem shape, made once (descriptors and the heuristic's algorithm).
const Plan* plan_locked(long long M, long long N, long long K, bool trans, long long ldc, float beta, DType e,
                        DType ct) {
  load_locked();
  if (!g_loaded || !g_enabled || (e != DType::BF16 && e != DType::F16) || (ct != DType::F32 && ct != e)) return nullptr;
  Key key{M, N, K, trans, ldc, beta != 0.0f, int(e), int(ct)};
  auto it = g_plans.find(key);
  const cudaDataType_t et = e == DType::F16 ? CUDA_R_16F : CUDA_R_16BF;
  if (it == g_plans.end())
    it = g_plans.emplace(key, make_plan(M, N, K, trans, ldc, et, ct == DType::F32 ? CUDA_R_32F : et)).first;
  return it->second.ok ? &it->second : nullptr;
}

}  // namespace

Info info() {
  std::lock_guard<std::mutex> lock(g_mu);
  load_locked();
  Info s;
  s.loaded = g_loaded;
  s.enabled = g_loaded && g_enabled;
  s.library = g_library;
  s.version = g_version;
  s.reason = g_reason;
  return s;
}

bool set_enabled(bool on) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_enabled = on;
  load_locked();
  return g_loaded && g_enabled;
}

bool can_run(long long M, long long N, long long K, bool trans, long long ldc, float beta, DType e, DType ct) {
  std::lock_guard<std::mutex> lock(g_mu);
  return plan_locked(M, N, K, trans, ldc, beta, e, ct) != nullptr;
}

bool gemm_16(long long M, long long N, long long K, float alpha, const void* a16, const void* w16, bool trans,
             float beta, void* c, long long ldc, DType e, DType ct) {
  std::lock_guard<std::mutex> lock(g_mu);
  const Plan* p = plan_locked(M, N, K, trans, ldc, beta, e, ct);
  if (!p) return false;
  int s = g_api.matmul(g_handle, p->desc, &alpha, w16, p->a, a16, p->b, &beta, c, p->c, c, p->c, &p->algo, g_workspace,
                       kWorkspace, stream());
  if (s != 0)
    throw std::runtime_error("linear (CUDA): cublasLtMatmul failed with status " + std::to_string(s) + " for [" +
                             std::to_string(M) + "," + std::to_string(K) + "]·W" + (trans ? "ᵀ" : "") + " → [" +
                             std::to_string(M) + "," + std::to_string(N) + "]; set PLF_CUBLASLT=0 to use our kernels");
  return true;
}

}  // namespace lt
}  // namespace cuda
}  // namespace plf
