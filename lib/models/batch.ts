// Batch helpers shared by the models: ids and labels as tensors, zeroing gradients.
import { Tensor } from '../tensor.js';
import { ArgumentError } from '../errors.js';
import type { Batch, Ids, TrainableParam } from './model.js';

/** int ids as numbers and their shape (a tensor made for the reading is disposed) */
export function idsArray(x: Ids, what: string): { data: number[]; shape: number[] } {
  const t = idsTensor(x, what);
  const out = { data: Array.from(t.toArray() as BigInt64Array, Number), shape: [...t.shape] };
  if (t !== x) t.dispose();
  return out;
}

/** int ids as an i64 [B, T] tensor */
export function idsTensor(x: Ids, what: string): Tensor {
  if (x instanceof Tensor) {
    if (x.dtype === 'i64') return x;
    if (x.dtype === 'i32')
      return Tensor.from(
        BigInt64Array.from(x.toArray() as Int32Array, (v) => BigInt(v)),
        x.shape,
      );
    throw new ArgumentError(`${what} must be an integer tensor, got ${x}`);
  }
  if (!Array.isArray(x) || !x.length || !x.every((r) => Array.isArray(r) && r.length === x[0].length))
    throw new ArgumentError(`${what} must be a non-empty rectangular array of rows`);
  const flat = (x as (number | bigint)[][]).flat().map((v) => BigInt(v));
  return Tensor.from(BigInt64Array.from(flat), [x.length, x[0].length]);
}

/** Zeroes every gradient (before accumulating a new step). */
export function zeroGrads(params: TrainableParam[]): void {
  for (const p of params) {
    const z = Tensor.zeros(p.grad.shape, 'f32', p.grad.device);
    p.grad.copyFrom(z);
    z.dispose();
  }
}

/** Multi-label targets [B, L] as an f32 tensor on `device` (a tensor passes through as given). */
export function labelsTensor(labels: NonNullable<Batch['labels']>, B: number, L: number, device: Tensor['device']): Tensor {
  if (labels instanceof Tensor) return labels;
  return Tensor.from(Float32Array.from((labels as number[][]).flat()), [B, L]).moveTo(device);
}
