// The model interface: what training, evaluation, adapters and experiments need of a model, and
// the batch types every model takes. DecoderModel (decoder/model.ts) and T5Model (t5/model.ts)
// implement it; code that needs "a model" imports this file, never a concrete model or the loader.
import type { Tensor, Device } from '../tensor.js';
import type { LoadOptions } from './module-loader.js';
import type { Linear } from './layers.js';
import type { LoraConfig } from './lora.js';
import type { GenerateOptions } from './greedy.js';

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

export interface TrainableParam {
  name: string;
  param: Tensor;
  grad: Tensor;
}

/** A fully trainable module saved with a LoRA adapter (PEFT's modules_to_save): its tensors by suffix. */
export interface SavedModule {
  module: string;
  tensors: Record<string, Tensor>;
}

/** What every model's config holds beside its own fields. */
export interface SharedConfig {
  padTokenId: number | null;
  eosTokenId: number | null;
  numLabels: number;
  raw: Record<string, unknown>;
}

export interface Model extends Disposable {
  readonly task: Task;
  readonly config: SharedConfig;
  readonly isEncoderDecoder: boolean;
  /** the model folder it was loaded from, when it came from one */
  readonly source: string | null;
  readonly device: Device;
  /** the LoRA targets when a LoraConfig names none: every linear of a layer */
  readonly defaultTargets: string[];
  /** the attached adapter's config, null before addLora / loadAdapter */
  lora: LoraConfig | null;
  /** how many dropout masks have been drawn (saved in checkpoints for an exact resume) */
  dropoutStep: number;
  gradientCheckpointing: boolean;
  activations: 'f32' | 'bf16' | 'f16';
  linears(): Linear[];
  addLora(c: LoraConfig): void;
  /** every weight trainable (small models trained from scratch) */
  trainAll(): void;
  trainableParameters(): TrainableParam[];
  modulesToSave(): SavedModule[];
  zeroGrad(): void;
  /**
   * lossOnly (training with labels): the model may compute the loss without keeping the logits —
   * decoder LMs run the head and cross-entropy chunk by chunk, and `logits` is then empty.
   */
  forward(batch: Batch, opts?: { train?: boolean; lossOnly?: boolean }): { logits: Tensor; loss?: number };
  /** gradients of the last forward's loss × scale, added into the trainable parameters' grads */
  backward(scale?: number): void;
  generate(batch: Pick<Batch, 'inputIds' | 'attentionMask'>, opts: GenerateOptions): number[][];
  saveAdapter(dir: string): void;
  loadAdapter(dir: string): void;
  saveWeights(dir: string): void;
  dispose(): void;
}
