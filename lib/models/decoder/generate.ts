// Greedy decoding with a KV cache, batched with left padding, positions from the attention mask
// (cumsum − 1, padding at 1) and EOS handling as transformers' generate does.
import { Tensor } from '../../tensor.js';
import { ArgumentError } from '../../errors.js';
import { idsArray } from '../batch.js';
import type { Batch, Task } from '../model.js';
import type { Device } from '../../tensor.js';
import type { LayerCache } from './blocks.js';
import { greedyPick, type GenerateOptions } from '../greedy.js';

/** What decoding needs of a decoder model (DecoderModel provides it). */
export interface CachedDecoder {
  readonly task: Task;
  readonly device: Device;
  readonly activations: 'f32' | 'bf16' | 'f16';
  readonly config: {
    eosTokenId: number | null;
    padTokenId: number | null;
    kvHeads: number;
    headDim: number;
    layers: number;
    vocabSize: number;
  };
  forward(batch: Batch, opts: { cache?: LayerCache[]; lastOnly?: boolean }): { logits: Tensor };
}

/** Prompt + generated ids per row ([B, T + n], n ≤ maxNewTokens). */
export function generate(model: CachedDecoder, batch: Pick<Batch, 'inputIds' | 'attentionMask'>, opts: GenerateOptions): number[][] {
  if (model.task !== 'causal-lm') throw new ArgumentError('generate() needs a causal-LM model');
  const {
    data: prompt,
    shape: [B, T],
  } = idsArray(batch.inputIds, 'inputIds');
  const mask0 = batch.attentionMask ? idsArray(batch.attentionMask, 'attentionMask').data : new Array(B * T).fill(1);
  const eos = opts.eosTokenId === undefined ? model.config.eosTokenId : opts.eosTokenId;
  const pad = opts.padTokenId ?? model.config.padTokenId ?? eos ?? 0;
  const c = model.config,
    cap = T + opts.maxNewTokens;
  const cache: LayerCache[] = Array.from({ length: c.layers }, () => ({
    k: Tensor.zeros([B, cap, c.kvHeads, c.headDim], model.activations, model.device),
    v: Tensor.zeros([B, cap, c.kvHeads, c.headDim], model.activations, model.device),
    len: 0,
  }));
  const mask = new BigInt64Array(B * cap);
  const pos = new BigInt64Array(B * T);
  const lastPos: number[] = [];
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let t = 0; t < T; t++) {
      const m = mask0[b * T + t];
      mask[b * cap + t] = BigInt(m);
      n += m;
      pos[b * T + t] = BigInt(m ? n - 1 : 1);
    }
    lastPos.push(n - 1);
  }
  const out = Array.from({ length: B }, (_, b) => prompt.slice(b * T, (b + 1) * T));
  const finished = new Array(B).fill(false);
  let step = { ids: Tensor.from(BigInt64Array.from(prompt, BigInt), [B, T]), positions: Tensor.from(pos, [B, T]) }; // ours to dispose (never the caller's)
  try {
    for (let i = 0; i < opts.maxNewTokens; i++) {
      const maskT = Tensor.from(mask, [B, cap]);
      const { logits } = model.forward(
        { inputIds: step.ids, attentionMask: maskT, positionIds: step.positions },
        { cache, lastOnly: true },
      );
      const lg = logits.toFloat32(),
        V = c.vocabSize;
      logits.dispose();
      maskT.dispose();
      step.ids.dispose();
      step.positions.dispose();
      const next = greedyPick(lg, V, finished, eos, pad, opts.pick);
      for (let b = 0; b < B; b++) {
        out[b].push(next[b]);
        mask[b * cap + T + i] = 1n;
        lastPos[b] += 1;
      }
      opts.onStep?.(next, finished);
      if (finished.every(Boolean)) break;
      step = {
        ids: Tensor.from(BigInt64Array.from(next, BigInt), [B, 1]),
        positions: Tensor.from(BigInt64Array.from(lastPos, BigInt), [B, 1]),
      };
      if (i === opts.maxNewTokens - 1) {
        step.ids.dispose();
        step.positions.dispose();
      }
    }
  } finally {
    cache.forEach((l) => {
      l.k.dispose();
      l.v.dispose();
    });
  }
  return out;
}
