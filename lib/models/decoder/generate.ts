// Greedy decoding with a KV cache, batched with left padding, positions from the attention mask
// (cumsum − 1, padding at 1) and EOS handling as transformers' generate does. The prompt runs as
// op calls; the steps after it too, or (RecordedStep) as one step recorded once and replayed per
// token — a CUDA graph on the GPU, where a step's ~15 op calls per layer would otherwise bound the
// tokens per second by host time.
import { Tensor } from '../../tensor.js';
import { ArgumentError } from '../../errors.js';
import { StepGraph } from '../../ops/graph.js';
import { idsArray } from '../batch.js';
import type { Batch, Task } from '../model.js';
import type { Device } from '../../tensor.js';
import type { LayerCache } from './blocks.js';
import { greedyPick, finishStep, type GenerateOptions } from '../greedy.js';
import { argmaxRows } from '../../ops/loss.js';
import { getMatmulPrecision } from '../../ops/linear.js';

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
    slidingWindow?: number;
  };
  forward(batch: Batch, opts: { cache?: LayerCache[]; cacheAt?: Tensor; lastOnly?: boolean }): { logits: Tensor };
  /**
   * Everything a recorded step reads that could be replaced between calls (weights, adapters and
   * their scales, norms): a kept step is reused only while these are the same objects and values.
   * Without it nothing is kept.
   */
  decodeParts?(): readonly unknown[];
}

/**
 * What a decoder keeps between generate calls when decoding as a recorded step, per batch shape:
 * the shape's static KV cache (its capacity rounded up to 256 positions, so calls of similar
 * lengths share it) and the step recorded over it — a CUDA graph is then recorded once per shape,
 * not per call. Up to KEEP_SHAPES shapes (a server's batches come in several sizes), the least
 * recently used dropped first; all of them when decodeParts() changes, by releaseDecode() and by
 * the model's dispose(). Each holds its cache: layers × 2 × B × capacity × kv heads × head size.
 */
interface KeptDecode {
  key: string;
  parts: readonly unknown[];
  cache: LayerCache[];
  step: RecordedStep;
  busy: boolean;
}
/** most recently used first */
const kept = new WeakMap<CachedDecoder, KeptDecode[]>();
const KEEP_ROUND = 256;
/** batch shapes kept per model (PLF_DECODE_SHAPES, default 4; 0 keeps none) */
const KEEP_SHAPES = /^\d+$/.test(process.env.PLF_DECODE_SHAPES ?? '') ? Number(process.env.PLF_DECODE_SHAPES) : 4;

function freeEntry(k: KeptDecode): void {
  k.step.dispose();
  disposeCache(k.cache);
}

/** Drops `entry` from what `model` keeps; freed unless a call is using it (that call frees it at its end). */
function dropEntry(model: CachedDecoder, entry: KeptDecode): void {
  const list = kept.get(model) ?? [];
  const i = list.indexOf(entry);
  if (i >= 0) list.splice(i, 1);
  if (!entry.busy) freeEntry(entry);
}

/** Frees the steps and caches generate kept for `model` (those a call is using are freed when it ends). */
export function releaseDecode(model: CachedDecoder): void {
  for (const k of [...(kept.get(model) ?? [])]) dropEntry(model, k);
}

function disposeCache(cache: LayerCache[]): void {
  cache.forEach((l) => {
    l.k.dispose();
    l.v.dispose();
  });
}

function sameParts(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

let warned = false;

/**
 * One decode step recorded with its inputs in device tensors (ids, positions, mask and the cache's
 * fill `at`, views of one i64 buffer written with one upload per token) and, without a `pick`, the
 * greedy pick on the device (one id per row comes back, not the row's logits). Attention then spans
 * the whole cache under the mask, a sliding window folded into the mask written per token (the
 * positions the window leaves behind set to 0): the same attention as the op calls'.
 */
class RecordedStep implements Disposable {
  private readonly inputs: Tensor;
  private readonly host: BigInt64Array;
  private readonly views: Tensor[];
  private graph: StepGraph | null = null;

  constructor(
    private readonly model: CachedDecoder,
    private readonly cache: LayerCache[],
    private readonly B: number,
    private readonly cap: number,
    private readonly onDevicePick: boolean,
  ) {
    this.host = new BigInt64Array(2 * B + B * cap + 1);
    this.inputs = Tensor.empty([this.host.length], 'i64', model.device);
    this.views = [
      this.inputs.view([B, 1], 0),
      this.inputs.view([B, 1], B),
      this.inputs.view([B, cap], 2 * B),
      this.inputs.view([1], 2 * B + B * cap),
    ];
  }

  /**
   * For tokens `ids` at `positions`, the cache filled to `at`: the last position's logits [B, V], or
   * with the pick on the device each row's first maximum.
   */
  run(ids: number[], positions: number[], mask: BigInt64Array, at: number): Float32Array | BigInt64Array {
    const { B, cap } = this,
      h = this.host;
    for (let b = 0; b < B; b++) {
      h[b] = BigInt(ids[b]);
      h[B + b] = BigInt(positions[b]);
    }
    h.set(mask, 2 * B);
    // the new token sits at cache position `at`; a window of w keeps positions > at − w (as the op calls' attention)
    const w = this.model.config.slidingWindow ?? 0;
    if (w > 0 && at - w >= 0) for (let b = 0; b < B; b++) h.fill(0n, 2 * B + b * cap, 2 * B + b * cap + Math.min(at - w + 1, cap));
    h[2 * B + B * cap] = BigInt(at);
    this.inputs.write(h);
    this.graph ??= StepGraph.record(this.model.device, () => {
      const [idsT, posT, maskT, atT] = this.views;
      const { logits } = this.model.forward(
        { inputIds: idsT, attentionMask: maskT, positionIds: posT },
        { cache: this.cache, cacheAt: atT, lastOnly: true },
      );
      if (!this.onDevicePick) return [logits];
      const picked = argmaxRows(logits);
      logits.dispose();
      return [picked];
    });
    this.graph.replay();
    const out = this.graph.outputs[0];
    return this.onDevicePick ? (out.toArray() as BigInt64Array) : out.toFloat32();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    this.graph?.dispose();
    this.graph = null;
    this.views.forEach((t) => t.dispose());
    this.inputs.dispose();
  }
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
  const c = model.config;
  // the steps after the prompt: recorded once and replayed (opts.graph, default on CUDA), else op calls
  const auto = opts.graph === undefined;
  const wantGraph = opts.graph ?? (model.device === 'cuda' && process.env.PLF_CUDA_GRAPH !== '0');
  // without a pick, the greedy choice is made on the device: one id per row comes back
  const onDevicePick = !opts.pick;
  // a recorded step and its cache are kept for the next call of this shape (opts.keep, default
  // with the graph); a shape a running call uses (generate called from onStep) is not shared
  let keep = wantGraph && (opts.keep ?? true) && !!model.decodeParts && KEEP_SHAPES > 0;
  const cap = keep ? Math.ceil((T + opts.maxNewTokens) / KEEP_ROUND) * KEEP_ROUND : T + opts.maxNewTokens;
  const key = `${B}:${cap}:${onDevicePick}:${model.activations}:${getMatmulPrecision()}`;
  const parts = keep ? model.decodeParts!() : [];
  const list = kept.get(model) ?? [];
  if (keep && list.some((k) => !sameParts(k.parts, parts))) releaseDecode(model); // new weights or adapters: every shape again
  let entry = keep ? list.find((k) => k.key === key) : undefined;
  if (entry?.busy) keep = false;
  if (!keep) entry = undefined;
  if (entry) list.unshift(...list.splice(list.indexOf(entry), 1)); // most recently used first
  const cache: LayerCache[] =
    entry?.cache ??
    Array.from({ length: c.layers }, () => ({
      k: Tensor.zeros([B, cap, c.kvHeads, c.headDim], model.activations, model.device),
      v: Tensor.zeros([B, cap, c.kvHeads, c.headDim], model.activations, model.device),
      len: 0,
    }));
  if (entry)
    // a kept cache starts as a fresh one does (stale values would only be masked, but 0·inf is NaN)
    cache.forEach((l) => {
      l.k.zero();
      l.v.zero();
      l.len = 0;
    });
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
  let recorded = entry?.step ?? (wantGraph ? new RecordedStep(model, cache, B, cap, onDevicePick) : null);
  if (keep && recorded && !entry) {
    entry = { key, parts, cache, step: recorded, busy: false };
    list.unshift(entry);
    kept.set(model, list);
    // the least recently used shapes past the limit go (not one a call is using)
    for (let i = list.length - 1; i >= 0 && list.length > KEEP_SHAPES; i--) if (!list[i].busy) dropEntry(model, list[i]);
  }
  if (entry) entry.busy = true;
  // one step as op calls (the prompt: ids [B, T]): each row's first maximum, or its logits [B, V] for pick
  const eager = (ids: number[], positions: BigInt64Array, n: number): Float32Array | BigInt64Array => {
    const idsT = Tensor.from(BigInt64Array.from(ids, BigInt), [B, n]),
      posT = Tensor.from(positions, [B, n]),
      maskT = Tensor.from(mask, [B, cap]);
    try {
      const { logits } = model.forward({ inputIds: idsT, attentionMask: maskT, positionIds: posT }, { cache, lastOnly: true });
      if (!onDevicePick) {
        const lg = logits.toFloat32();
        logits.dispose();
        return lg;
      }
      const picked = argmaxRows(logits);
      logits.dispose();
      const ids = picked.toArray() as BigInt64Array;
      picked.dispose();
      return ids;
    } finally {
      for (const t of [idsT, posT, maskT]) t.dispose();
    }
  };
  try {
    let next: number[] = [];
    for (let i = 0; i < opts.maxNewTokens; i++) {
      let lg: Float32Array | BigInt64Array | null = null;
      if (i === 0) lg = eager(prompt, pos, T);
      else if (recorded) {
        try {
          lg = recorded.run(next, lastPos, mask, cache[0].len);
          cache.forEach((l) => (l.len += 1));
        } catch (e) {
          if (!auto) throw e;
          if (entry) dropEntry(model, entry); // busy: this call still decodes into the cache, freed at its end
          entry = undefined;
          recorded.dispose();
          recorded = null;
          if (!warned) process.emitWarning(`decoding without a CUDA graph: ${(e as Error).message}`, { code: 'PLF_CUDA_GRAPH' });
          warned = true;
        }
      }
      lg ??= eager(next, BigInt64Array.from(lastPos, BigInt), 1);
      next =
        lg instanceof BigInt64Array
          ? finishStep(Array.from(lg, Number), finished, eos, pad)
          : greedyPick(lg, c.vocabSize, finished, eos, pad, opts.pick);
      for (let b = 0; b < B; b++) {
        out[b].push(next[b]);
        mask[b * cap + T + i] = 1n;
        lastPos[b] += 1;
      }
      opts.onStep?.(next, finished);
      if (finished.every(Boolean)) break;
    }
  } finally {
    if (entry && kept.get(model)?.includes(entry)) entry.busy = false;
    else {
      recorded?.dispose();
      disposeCache(cache);
    }
  }
  return out;
}
