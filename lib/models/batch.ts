// What every model takes and gives: tasks, batches, trainable parameters, load options.
import { Tensor } from '../tensor.js';
import { ArgumentError } from '../errors.js';
import type { LoadOptions } from './loader.js';

export type Task = 'causal-lm' | 'sequence-classification';

export interface LoadModelOptions extends LoadOptions {
  task?: Task;
  /** labels of a classification head (default: the config's id2label / num_labels) */
  numLabels?: number;
  /**
   * dtype of the hidden states and every intermediate (every family): 'bf16'/'f16' halve
   * activation memory; kernels still compute and accumulate in f32. Weights keep their storage,
   * LoRA parameters, gradients and optimizer state stay f32. Default 'f32'.
   */
  activations?: 'f32' | 'bf16' | 'f16';
  /** seed for a freshly initialised classification head */
  seed?: number;
}

export type Ids = Tensor | number[][] | bigint[][];
export interface Batch {
  inputIds: Ids;
  attentionMask?: Ids;
  positionIds?: Ids;
  /** causal LM: token ids with -100 where no loss is taken (shifted inside, as HF does); cls: [B, L] 0/1 */
  labels?: Ids | Tensor | number[][];
  /** encoder-decoder: the decoder's input (default: the labels shifted right) */
  decoderInputIds?: Ids;
}

export interface TrainableParam { name: string; param: Tensor; grad: Tensor }

/** A fully trainable module saved with a LoRA adapter (PEFT's modules_to_save): its tensors by suffix. */
export interface SavedModule { module: string; tensors: Record<string, Tensor> }

/** int ids as an i64 [B, T] tensor */
export function idsTensor(x: Ids, what: string): Tensor {
  if (x instanceof Tensor) {
    if (x.dtype === 'i64') return x;
    if (x.dtype === 'i32') return Tensor.from(BigInt64Array.from(x.toArray() as Int32Array, (v) => BigInt(v)), x.shape);
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
