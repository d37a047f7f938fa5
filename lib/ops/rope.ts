// Rotary position embedding (HF rotate_half layout) on [B, T, H, D]; partial rotary via rotaryDim.
import { addon } from '../native/addon.js';
import { Tensor } from '../tensor.js';

export interface RopeOptions {
  rotaryDim?: number;
  theta: number;
  inPlace?: boolean;
}

export function ropeForward(x: Tensor, positions: Tensor, o: RopeOptions): Tensor {
  const y = o.inPlace ? x : Tensor.empty(x.shape, x.dtype, x.device);
  addon.rope_forward(x.handle, positions.handle, o.rotaryDim ?? x.shape[3], o.theta, y.handle);
  return y;
}

export function ropeBackward(dy: Tensor, positions: Tensor, o: RopeOptions): Tensor {
  const dx = o.inPlace ? dy : Tensor.empty(dy.shape, dy.dtype, dy.device);
  addon.rope_backward(dy.handle, positions.handle, o.rotaryDim ?? dy.shape[3], o.theta, dx.handle);
  return dx;
}

/** q and k rotated in place by one call (one kernel launch on CUDA): [B, T, Hq, D] and [B, T, Hkv, D]. */
export function ropePairInPlace(q: Tensor, k: Tensor, positions: Tensor, o: Omit<RopeOptions, 'inPlace'>, inverse = false): void {
  const rot = o.rotaryDim ?? q.shape[3];
  if (inverse) addon.rope_backward(q.handle, positions.handle, rot, o.theta, q.handle, k.handle, k.handle);
  else addon.rope_forward(q.handle, positions.handle, rot, o.theta, q.handle, k.handle, k.handle);
}
