// SwiGLU, GELU (erf or tanh "gelu_new") and the residual add.
import { addon } from '../native/addon.js';
import { Tensor } from '../tensor.js';

export type GeluApprox = 'none' | 'tanh';

export function swigluForward(gate: Tensor, up: Tensor): Tensor {
  const y = Tensor.empty(gate.shape, 'f32', gate.device);
  addon.swiglu_forward(gate.handle, up.handle, y.handle);
  return y;
}

export function swigluBackward(dy: Tensor, gate: Tensor, up: Tensor) {
  const dgate = Tensor.empty(gate.shape, 'f32', gate.device);
  const dup = Tensor.empty(up.shape, 'f32', up.device);
  addon.swiglu_backward(dy.handle, gate.handle, up.handle, dgate.handle, dup.handle);
  return { dgate, dup };
}

export function geluForward(x: Tensor, approximate: GeluApprox = 'none'): Tensor {
  const y = Tensor.empty(x.shape, 'f32', x.device);
  addon.gelu_forward(x.handle, approximate, y.handle);
  return y;
}

export function geluBackward(dy: Tensor, x: Tensor, approximate: GeluApprox = 'none'): Tensor {
  const dx = Tensor.empty(x.shape, 'f32', x.device);
  addon.gelu_backward(dy.handle, x.handle, approximate, dx.handle);
  return dx;
}

/** y = a + b (out may be a or b for in-place accumulation) */
export function addForward(a: Tensor, b: Tensor, out?: Tensor): Tensor {
  const y = out ?? Tensor.empty(a.shape, 'f32', a.device);
  addon.add_forward(a.handle, b.handle, y.handle);
  return y;
}
