// Embedding lookup (+ scatter-add backward) and last-non-pad-token pooling.
import { addon } from '../native/addon.js';
import { Tensor, type DType } from '../tensor.js';

/** Rows of table for ids; `dtype` is the activations' (default the table's; kernels compute in f32). */
export function embeddingForward(ids: Tensor, table: Tensor, dtype: DType = table.dtype): Tensor {
  const out = Tensor.empty([...ids.shape, table.shape[1]], dtype, table.device);
  addon.embedding_forward(ids.handle, table.handle, out.handle);
  return out;
}

/** Adds the gradient of every looked-up row into dtable [V, D]. */
export function embeddingBackward(ids: Tensor, dout: Tensor, dtable: Tensor): Tensor {
  addon.embedding_backward(ids.handle, dout.handle, dtable.handle);
  return dtable;
}

/** The last position of each row whose id is not padId (transformers' sequence-classification pooling). */
export function lastTokenIndex(ids: Tensor, padId: number): Tensor {
  const out = Tensor.empty([ids.shape[0]], 'i64', ids.device);
  addon.last_token_index(ids.handle, padId, out.handle);
  return out;
}

/** y [B, H] = x[b, index[b], :] */
export function gatherRowsForward(x: Tensor, index: Tensor): Tensor {
  const y = Tensor.empty([x.shape[0], x.shape[2]], x.dtype, x.device);
  addon.gather_rows_forward(x.handle, index.handle, y.handle);
  return y;
}

export function gatherRowsBackward(dy: Tensor, index: Tensor, xShape: readonly number[]): Tensor {
  const dx = Tensor.empty(xShape, dy.dtype, dy.device);
  addon.gather_rows_backward(dy.handle, index.handle, dx.handle);
  return dx;
}
