// Column slices of the last dimension (splitting fused projections) and their backward; the
// KV-cache append of a decode step.
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

/**
 * The KV caches kc, vc [B, cap, H, D] get k, v [B, T, H, D] at positions at..at+T−1 (one launch on
 * CUDA), `at` an i64 [1] tensor on the caches' device, read there (so a recorded CUDA graph appends
 * where each replay's `at` says). On the CPU an `at` that does not fit throws; on CUDA positions
 * past the cache are skipped.
 */
export function cacheWrite(k: Tensor, v: Tensor, at: Tensor, kc: Tensor, vc: Tensor): void {
  addon.cache_write(k.handle, v.handle, at.handle, kc.handle, vc.handle);
}
