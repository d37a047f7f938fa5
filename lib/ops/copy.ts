// Column slices of the last dimension (splitting fused projections) and their backward.
import { addon } from '../native/addon.js';
import { Tensor } from '../tensor.js';

/** y [.., len] = x[.., start:start+len] */
export function sliceColsForward(x: Tensor, start: number, len: number): Tensor {
  const y = Tensor.empty([...x.shape.slice(0, -1), len], x.dtype, x.device);
  addon.slice_cols_forward(x.handle, start, y.handle);
  return y;
}

/** Adds dy into columns [start, start+len) of dx (which must hold the full width). */
export function sliceColsBackward(dy: Tensor, start: number, dx: Tensor): Tensor {
  addon.slice_cols_backward(dy.handle, start, dx.handle);
  return dx;
}
