// Greedy decoding for T5: the encoder runs once; each decoder layer caches its self-attention
// keys/values and, from the first step, the cross-attention keys/values of the encoder output.
import { Tensor } from '../../tensor.js';
import { ArgumentError } from '../../errors.js';
import { idsTensor, type Batch } from '../batch.js';
import type { T5LayerCache } from './blocks.js';
import type { T5Model } from './model.js';

export type { GenerateOptions } from '../generate.js';
import { greedyPick, type GenerateOptions } from '../generate.js';

/** Per row: decoder_start_token_id, then the generated ids (as transformers returns them). */
export function generateT5(model: T5Model, batch: Pick<Batch, 'inputIds' | 'attentionMask'>, opts: GenerateOptions): number[][] {
  if (model.task !== 'causal-lm') throw new ArgumentError('generate() needs a T5 model with its LM head (task causal-lm)');
  const ids = idsTensor(batch.inputIds, 'inputIds');
  const mask = batch.attentionMask ? idsTensor(batch.attentionMask, 'attentionMask') : null;
  const B = ids.shape[0], c = model.config;
  const eos = opts.eosTokenId === undefined ? c.eosTokenId : opts.eosTokenId;
  const pad = opts.padTokenId ?? c.padTokenId ?? eos ?? 0;
  const cap = opts.maxNewTokens + 1;
  const cache: T5LayerCache[] = Array.from({ length: c.decoderLayers }, () => ({
    k: Tensor.zeros([B, cap, c.heads, c.headDim], model.activations, model.device),
    v: Tensor.zeros([B, cap, c.heads, c.headDim], model.activations, model.device),
    len: 0, crossK: null, crossV: null,
  }));
  const out = Array.from({ length: B }, () => [c.decoderStartTokenId]);
  const finished = new Array(B).fill(false);
  const enc = model.encode(ids, mask, false);
  try {
    let step = Tensor.from(BigInt64Array.from({ length: B }, () => BigInt(c.decoderStartTokenId)), [B, 1]);
    for (let i = 0; i < opts.maxNewTokens; i++) {
      const dec = model.decode(step, enc, mask, false, { cache, offset: i });
      step.dispose();
      const logits = model.lmLogits(dec, false);
      dec.dispose();
      const lg = logits.toFloat32(), V = c.vocabSize;
      logits.dispose();
      const next = greedyPick(lg, V, finished, eos, pad);
      next.forEach((tok, b) => out[b].push(tok));
      if (finished.every(Boolean)) break;
      step = Tensor.from(BigInt64Array.from(next, BigInt), [B, 1]);
      if (i === opts.maxNewTokens - 1) step.dispose();
    }
  } finally {
    enc.dispose();
    for (const l of cache) for (const t of [l.k, l.v, l.crossK, l.crossV]) t?.dispose();
  }
  return out;
}
