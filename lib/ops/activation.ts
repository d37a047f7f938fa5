// SwiGLU, GELU (erf or tanh "gelu_new"), GeGLU (T5's gated-gelu), ReLU, tanh and the residual add.
import { addon } from '../native/addon.js';
import { Tensor } from '../tensor.js';

export type GeluApprox = 'none' | 'tanh';

export function swigluForward(gate: Tensor, up: Tensor): Tensor {
  const y = Tensor.empty(gate.shape, gate.dtype, gate.device);
  addon.swiglu_forward(gate.handle, up.handle, y.handle);
  return y;
}

export function swigluBackward(dy: Tensor, gate: Tensor, up: Tensor) {
  const dgate = Tensor.empty(gate.shape, gate.dtype, gate.device);
  const dup = Tensor.empty(up.shape, up.dtype, up.device);
  addon.swiglu_backward(dy.handle, gate.handle, up.handle, dgate.handle, dup.handle);
  return { dgate, dup };
}

export function geluForward(x: Tensor, approximate: GeluApprox = 'none'): Tensor {
  const y = Tensor.empty(x.shape, x.dtype, x.device);
  addon.gelu_forward(x.handle, approximate, y.handle);
  return y;
}

export function geluBackward(dy: Tensor, x: Tensor, approximate: GeluApprox = 'none'): Tensor {
  const dx = Tensor.empty(x.shape, x.dtype, x.device);
  addon.gelu_backward(dy.handle, x.handle, approximate, dx.handle);
  return dx;
}

/** y = gelu(gate) · up (T5's gated-gelu with approximate 'tanh') */
export function gegluForward(gate: Tensor, up: Tensor, approximate: GeluApprox = 'tanh'): Tensor {
  const y = Tensor.empty(gate.shape, gate.dtype, gate.device);
  addon.geglu_forward(gate.handle, up.handle, approximate, y.handle);
  return y;
}

export function gegluBackward(dy: Tensor, gate: Tensor, up: Tensor, approximate: GeluApprox = 'tanh') {
  const dgate = Tensor.empty(gate.shape, gate.dtype, gate.device);
  const dup = Tensor.empty(up.shape, up.dtype, up.device);
  addon.geglu_backward(dy.handle, gate.handle, up.handle, approximate, dgate.handle, dup.handle);
  return { dgate, dup };
}

export function reluForward(x: Tensor): Tensor {
  const y = Tensor.empty(x.shape, x.dtype, x.device);
  addon.relu_forward(x.handle, y.handle);
  return y;
}

export function reluBackward(dy: Tensor, x: Tensor): Tensor {
  const dx = Tensor.empty(x.shape, x.dtype, x.device);
  addon.relu_backward(dy.handle, x.handle, dx.handle);
  return dx;
}

export function tanhForward(x: Tensor): Tensor {
  const y = Tensor.empty(x.shape, x.dtype, x.device);
  addon.tanh_forward(x.handle, y.handle);
  return y;
}

/** from the forward's output y */
export function tanhBackward(dy: Tensor, y: Tensor): Tensor {
  const dx = Tensor.empty(y.shape, y.dtype, y.device);
  addon.tanh_backward(dy.handle, y.handle, dx.handle);
  return dx;
}

/** y = alpha · x (the backward of a scaling is the same scaling); out may be x */
export function scaleForward(x: Tensor, alpha: number, out?: Tensor): Tensor {
  const y = out ?? Tensor.empty(x.shape, x.dtype, x.device);
  addon.scale_forward(x.handle, alpha, y.handle);
  return y;
}

/** y = a + b (out may be a or b for in-place accumulation) */
export function addForward(a: Tensor, b: Tensor, out?: Tensor): Tensor {
  const y = out ?? Tensor.empty(a.shape, a.dtype, a.device);
  addon.add_forward(a.handle, b.handle, y.handle);
  return y;
}
