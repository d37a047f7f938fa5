// Softmax cross-entropy (ignore index, mean over counted rows) and BCE-with-logits (mean).
import { addon } from '../native/addon.js';
import { Tensor } from '../tensor.js';

export const IGNORE_INDEX = -100;

export function crossEntropyForward(logits: Tensor, targets: Tensor, ignoreIndex = IGNORE_INDEX) {
  return addon.cross_entropy_forward(logits.handle, targets.handle, ignoreIndex);
}

export function crossEntropyBackward(logits: Tensor, targets: Tensor, dloss = 1, ignoreIndex = IGNORE_INDEX): Tensor {
  const d = Tensor.empty(logits.shape, logits.dtype, logits.device);
  addon.cross_entropy_backward(logits.handle, targets.handle, ignoreIndex, dloss, d.handle);
  return d;
}

export function bceWithLogitsForward(logits: Tensor, labels: Tensor): number {
  return addon.bce_logits_forward(logits.handle, labels.handle);
}

export function bceWithLogitsBackward(logits: Tensor, labels: Tensor, dloss = 1): Tensor {
  const d = Tensor.empty(logits.shape, logits.dtype, logits.device);
  addon.bce_logits_backward(logits.handle, labels.handle, dloss, d.handle);
  return d;
}

/**
 * Greedy decoding's pick: the first maximum of each row of x [.., V], as the scan `x[v] > x[best]`
 * from best = 0 finds it (a NaN is never chosen unless in column 0), i64 [rows] on x's device.
 */
export function argmaxRows(x: Tensor): Tensor {
  const V = x.shape[x.shape.length - 1] ?? 0;
  const out = Tensor.empty([V ? x.numel / V : 0], 'i64', x.device);
  addon.argmax_rows(x.handle, out.handle);
  return out;
}
