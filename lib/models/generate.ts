// Greedy decoding with a KV cache, batched with left padding, positions from the attention mask
// (cumsum − 1, padding at 1) and EOS handling as transformers' generate does.
import { Tensor } from '../tensor.js';
import { ArgumentError } from '../errors.js';
import { idsTensor, type Batch, type DecoderModel } from './decoder.js';
import type { LayerCache } from './blocks.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** stop a row at this token (default: the config's eos_token_id; null: never stop early) */
  eosTokenId?: number | null;
  /** what finished rows are filled with (default: the config's pad_token_id, else EOS) */
  padTokenId?: number;
}

/**
 * One greedy step over rows of logits [B, V]: the first maximum per row (as torch.argmax), pad for
 * rows already finished; rows that produce EOS are marked finished.
 */
export function greedyPick(lg: Float32Array, V: number, finished: boolean[], eos: number | null, pad: number): number[] {
  return finished.map((done, b) => {
    let best = 0;
    for (let v = 1; v < V; v++) if (lg[b * V + v] > lg[b * V + best]) best = v;
    const tok = done ? pad : best;
    if (eos !== null && tok === eos) finished[b] = true;
    return tok;
  });
}

/** Prompt + generated ids per row ([B, T + n], n ≤ maxNewTokens). */
export function generate(model: DecoderModel, batch: Pick<Batch, 'inputIds' | 'attentionMask'>, opts: GenerateOptions): number[][] {
  if (model.task !== 'causal-lm') throw new ArgumentError('generate() needs a causal-LM model');
  const ids = idsTensor(batch.inputIds, 'inputIds');
  const [B, T] = ids.shape;
  const prompt = Array.from(ids.toArray() as BigInt64Array, Number);
  const mask0 = batch.attentionMask ? Array.from(idsTensor(batch.attentionMask, 'attentionMask').toArray() as BigInt64Array, Number)
    : new Array(B * T).fill(1);
  const eos = opts.eosTokenId === undefined ? model.config.eosTokenId : opts.eosTokenId;
  const pad = opts.padTokenId ?? model.config.padTokenId ?? eos ?? 0;
  const c = model.config, cap = T + opts.maxNewTokens;
  const cache: LayerCache[] = Array.from({ length: c.layers }, () => ({
    k: Tensor.zeros([B, cap, c.kvHeads, c.headDim], model.activations, model.device),
    v: Tensor.zeros([B, cap, c.kvHeads, c.headDim], model.activations, model.device), len: 0,
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
  let step = { ids, positions: Tensor.from(pos, [B, T]) };
  try {
    for (let i = 0; i < opts.maxNewTokens; i++) {
      const maskT = Tensor.from(mask, [B, cap]);
      const { logits } = model.forward({ inputIds: step.ids, attentionMask: maskT, positionIds: step.positions },
        { cache, lastOnly: true });
      const lg = logits.toFloat32(), V = c.vocabSize;
      logits.dispose(); maskT.dispose(); step.ids.dispose(); step.positions.dispose();
      const next = greedyPick(lg, V, finished, eos, pad);
      for (let b = 0; b < B; b++) {
        out[b].push(next[b]);
        mask[b * cap + T + i] = 1n;
        lastPos[b] += 1;
      }
      if (finished.every(Boolean)) break;
      step = {
        ids: Tensor.from(BigInt64Array.from(next, BigInt), [B, 1]),
        positions: Tensor.from(BigInt64Array.from(lastPos, BigInt), [B, 1]),
      };
      if (i === opts.maxNewTokens - 1) { step.ids.dispose(); step.positions.dispose(); }
    }
  } finally {
    cache.forEach((l) => { l.k.dispose(); l.v.dispose(); });
  }
  return out;
}
