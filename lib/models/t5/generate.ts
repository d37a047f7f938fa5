// Greedy decoding for T5: the encoder runs once; each decoder layer caches its self-attention
// keys/values and, from the first step, the cross-attention keys/values of the encoder output.
import { Tensor } from '../../tensor.js';
import { ArgumentError } from '../../errors.js';
import { idsTensor } from '../batch.js';
import { type Batch } from '../model.js';
import type { T5LayerCache } from './blocks.js';
import type { Device } from '../../tensor.js';
import type { Task } from '../model.js';

export type { GenerateOptions } from '../greedy.js';
import { greedyPick, finishStep, type GenerateOptions } from '../greedy.js';
import { argmaxRows } from '../../ops/loss.js';

/** What decoding needs of a T5 model (T5Model provides it). */
export interface Seq2SeqDecoder {
  readonly task: Task;
  readonly device: Device;
  readonly activations: 'f32' | 'bf16' | 'f16';
  readonly config: {
    eosTokenId: number | null;
    padTokenId: number | null;
    decoderLayers: number;
    heads: number;
    headDim: number;
    decoderStartTokenId: number;
    vocabSize: number;
  };
  encode(ids: Tensor, mask: Tensor | null, train: false): Tensor;
  decode(ids: Tensor, enc: Tensor, encMask: Tensor | null, train: false, o: { cache?: T5LayerCache[]; offset?: number }): Tensor;
  lmLogits(dec: Tensor, train: false): Tensor;
}

/** Per row: decoder_start_token_id, then the generated ids (as transformers returns them). */
export function generateT5(model: Seq2SeqDecoder, batch: Pick<Batch, 'inputIds' | 'attentionMask'>, opts: GenerateOptions): number[][] {
  if (model.task !== 'causal-lm') throw new ArgumentError('generate() needs a T5 model with its LM head (task causal-lm)');
  const ids = idsTensor(batch.inputIds, 'inputIds');
  const mask = batch.attentionMask ? idsTensor(batch.attentionMask, 'attentionMask') : null;
  const B = ids.shape[0],
    c = model.config;
  const eos = opts.eosTokenId === undefined ? c.eosTokenId : opts.eosTokenId;
  const pad = opts.padTokenId ?? c.padTokenId ?? eos ?? 0;
  const cap = opts.maxNewTokens + 1;
  const cache: T5LayerCache[] = Array.from({ length: c.decoderLayers }, () => ({
    k: Tensor.zeros([B, cap, c.heads, c.headDim], model.activations, model.device),
    v: Tensor.zeros([B, cap, c.heads, c.headDim], model.activations, model.device),
    len: 0,
    crossK: null,
    crossV: null,
  }));
  const out = Array.from({ length: B }, () => [c.decoderStartTokenId]);
  const finished = new Array(B).fill(false);
  const enc = model.encode(ids, mask, false);
  try {
    let step = Tensor.from(
      BigInt64Array.from({ length: B }, () => BigInt(c.decoderStartTokenId)),
      [B, 1],
    );
    for (let i = 0; i < opts.maxNewTokens; i++) {
      const dec = model.decode(step, enc, mask, false, { cache, offset: i });
      step.dispose();
      const logits = model.lmLogits(dec, false);
      dec.dispose();
      let next: number[];
      if (opts.pick) next = greedyPick(logits.toFloat32(), c.vocabSize, finished, eos, pad, opts.pick);
      else {
        // the first maximum per row on the device: one id per row comes back, not [B, V] logits
        const picked = argmaxRows(logits);
        next = finishStep(Array.from(picked.toArray() as BigInt64Array, Number), finished, eos, pad);
        picked.dispose();
      }
      logits.dispose();
      next.forEach((tok, b) => out[b].push(tok));
      opts.onStep?.(next, finished);
      if (finished.every(Boolean)) break;
      step = Tensor.from(BigInt64Array.from(next, BigInt), [B, 1]);
      if (i === opts.maxNewTokens - 1) step.dispose();
    }
  } finally {
    enc.dispose();
    for (const l of cache) for (const t of [l.k, l.v, l.crossK, l.crossV]) t?.dispose();
    if (ids !== batch.inputIds) ids.dispose();
    if (mask && mask !== batch.attentionMask) mask.dispose();
  }
  return out;
}
