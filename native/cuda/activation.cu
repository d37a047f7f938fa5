// Elementwise activations on CUDA (grid-stride loops), the same arithmetic as native/cpu/activation.cpp:
// GELU's tanh/erf forms in double, rounded once, so results agree with the CPU to the last bits;
// 16-bit activations are read and written in place (the CPU's staged results, bit for bit).
#include "plf/ops.h"
#include "check.cuh"
#include "act.cuh"
#include "activation.cuh"

namespace plf {
namespace cuda {

// kernel<T> over n elements, T the dtype of `like` (the binding gives all of an op's activations one dtype)
#define PLF_LAUNCH(kernel, like, n, ...)                                                                       \
  do {                                                                                                         \
    if ((n) > 0)                                                                                               \
      by_dtype((like).t,                                                                                       \
               [&](auto tag) { kernel<PLF_DT(tag)><<<blocks_for(n, 256), 256, 0, stream()>>>(__VA_ARGS__); }); \
    check_launch(#kernel);                                                                                     \
  } while (0)

void swiglu_forward(CAct g, CAct u, int64_t n, Act y) { PLF_LAUNCH(swiglu_fwd_k, y, n, g.p, u.p, n, y.p); }
void swiglu_backward(CAct dy, CAct g, CAct u, int64_t n, Act dg, Act du) {
  PLF_LAUNCH(swiglu_bwd_k, dy, n, dy.p, g.p, u.p, n, dg.p, du.p);
}
void gelu_forward(CAct x, int64_t n, bool t, Act y) { PLF_LAUNCH(gelu_fwd_k, y, n, x.p, n, t, y.p); }
void gelu_backward(CAct dy, CAct x, int64_t n, bool t, Act dx) { PLF_LAUNCH(gelu_bwd_k, dx, n, dy.p, x.p, n, t, dx.p); }
void geglu_forward(CAct g, CAct u, int64_t n, bool t, Act y) { PLF_LAUNCH(geglu_fwd_k, y, n, g.p, u.p, n, t, y.p); }
void geglu_backward(CAct dy, CAct g, CAct u, int64_t n, bool t, Act dg, Act du) {
  PLF_LAUNCH(geglu_bwd_k, dy, n, dy.p, g.p, u.p, n, t, dg.p, du.p);
}
void relu_forward(CAct x, int64_t n, Act y) { PLF_LAUNCH(relu_fwd_k, y, n, x.p, n, y.p); }
void relu_backward(CAct dy, CAct x, int64_t n, Act dx) { PLF_LAUNCH(relu_bwd_k, dx, n, dy.p, x.p, n, dx.p); }
void tanh_forward(CAct x, int64_t n, Act y) { PLF_LAUNCH(tanh_fwd_k, y, n, x.p, n, y.p); }
void tanh_backward(CAct dy, CAct y, int64_t n, Act dx) { PLF_LAUNCH(tanh_bwd_k, dx, n, dy.p, y.p, n, dx.p); }
void scale_forward(CAct x, int64_t n, float a, Act y) { PLF_LAUNCH(scale_k, y, n, x.p, n, a, y.p); }
void add_forward(CAct a, CAct b, int64_t n, Act y) { PLF_LAUNCH(add_k, y, n, a.p, b.p, n, y.p); }

}  // namespace cuda
}  // namespace plf
