// T5 config.json → T5Config, with the semantics transformers 5.17 gives the fields (Flan-T5's own
// configs are transformers-4 style; ../shared's fixture was saved by 5.17).
import { ConfigError } from '../../errors.js';
import { size, labelCount, tokenId } from '../decoder/config.js';

export interface T5Config {
  modelType: 't5';
  vocabSize: number;
  /** d_model */
  hidden: number;
  /** d_kv: per-head size (heads × d_kv need not equal d_model) */
  headDim: number;
  heads: number;
  /** d_ff */
  intermediate: number;
  layers: number;
  decoderLayers: number;
  numBuckets: number;
  maxDistance: number;
  normEps: number;
  /** feed_forward_proj 'gated-…': wi_0 (activated) × wi_1; else a single wi */
  gated: boolean;
  act: 'relu' | 'gelu' | 'gelu_new' | 'silu';
  /**
   * Decoder output × d_model^-½ before the LM head. 5.17 derives it from the legacy flag
   * (`tie_word_embeddings` not false → scale; original T5 scales, T5 1.1 / Flan-T5 do not) and then
   * saves it, while forcing tie_word_embeddings to true; a saved value wins.
   */
  scaleDecoderOutputs: boolean;
  padTokenId: number | null;
  eosTokenId: number | null;
  decoderStartTokenId: number;
  numLabels: number;
  quantization: Record<string, unknown> | null;
  raw: Record<string, unknown>;
}

type Raw = Record<string, unknown>;

function num(raw: Raw, file: string, key: string, dflt?: number): number {
  const v = raw[key];
  if (typeof v === 'number') return v;
  if (dflt !== undefined) return dflt;
  throw new ConfigError(`${file}: missing numeric field ${key}`);
}

export function parseT5Config(raw: Raw, file = 'config.json'): T5Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}: must hold a JSON object`);
  const proj = String(raw.feed_forward_proj ?? 'relu');
  const parts = proj.split('-');
  const gated = parts[0] === 'gated';
  if (parts.length > 2 || (parts.length === 2 && !gated))
    throw new ConfigError(`${file}: feed_forward_proj '${proj}' must be 'ACT' or 'gated-ACT'`);
  // transformers: 'gated-gelu' means gelu_new (tanh) for backward compatibility
  const act = proj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  const ok = gated ? act === 'gelu' || act === 'gelu_new' || act === 'silu' : act === 'relu' || act === 'gelu' || act === 'gelu_new';
  if (!ok)
    throw new ConfigError(
      `${file}: feed_forward_proj '${proj}' is not supported (relu, gelu, gelu_new, gated-gelu, gated-gelu_new, gated-silu)`,
    );
  const layers = size(raw, file, 1, 4096, 'num_layers');
  const labels = labelCount(raw, file);
  const eps = num(raw, file, 'layer_norm_epsilon', 1e-6);
  if (!(eps > 0 && eps < 1)) throw new ConfigError(`${file}: layer_norm_epsilon must be in (0, 1), got ${eps}`);
  const pad = tokenId(raw, file, 'pad_token_id');
  return {
    modelType: 't5',
    vocabSize: size(raw, file, 1, 1 << 24, 'vocab_size'),
    hidden: size(raw, file, 1, 1 << 20, 'd_model'),
    headDim: size(raw, file, 1, 1 << 16, 'd_kv'),
    heads: size(raw, file, 1, 4096, 'num_heads'),
    intermediate: size(raw, file, 1, 1 << 22, 'd_ff'),
    layers,
    decoderLayers: typeof raw.num_decoder_layers === 'number' ? size(raw, file, 1, 4096, 'num_decoder_layers') : layers,
    numBuckets: raw.relative_attention_num_buckets === undefined ? 32 : size(raw, file, 2, 1 << 16, 'relative_attention_num_buckets'),
    maxDistance: raw.relative_attention_max_distance === undefined ? 128 : size(raw, file, 1, 1 << 30, 'relative_attention_max_distance'),
    normEps: eps,
    gated,
    act: act as T5Config['act'],
    scaleDecoderOutputs: typeof raw.scale_decoder_outputs === 'boolean' ? raw.scale_decoder_outputs : raw.tie_word_embeddings !== false,
    padTokenId: pad,
    eosTokenId: tokenId(raw, file, 'eos_token_id'),
    decoderStartTokenId: tokenId(raw, file, 'decoder_start_token_id') ?? pad ?? 0,
    numLabels: labels,
    quantization: (raw.quantization_config as Raw | undefined) ?? null,
    raw,
  };
}

/**
 * T5's relative position bucket of (key − query), as transformers computes it (the log branch in
 * float32, truncated): exact buckets for small distances, logarithmic up to max_distance. The
 * encoder is bidirectional (half the buckets for keys after the query); the decoder only looks back.
 */
export function relativePositionBucket(rel: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let base = 0,
    n = numBuckets,
    r = rel;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (r > 0) base = n;
    r = Math.abs(r);
  } else {
    r = -Math.min(r, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (r < maxExact) return base + r;
  const f = Math.fround;
  const large = Math.trunc(f(f(f(Math.log(f(r / maxExact))) / f(Math.log(maxDistance / maxExact))) * (n - maxExact)));
  return base + Math.min(maxExact + large, n - 1);
}
