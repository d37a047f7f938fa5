// HF config.json → ModelConfig, for transformers 4.x (rope_theta at top level) and 5.x (rope_parameters).
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../errors.js';

export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'phi', 'gpt_neox'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];
export type Family = 'llama' | 'phi' | 'gpt_neox';

export interface ModelConfig {
  modelType: ModelType;
  family: Family;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  normEps: number;
  ropeTheta: number;
  rotaryDim: number;
  /** mistral: keys with t − s < window; 0 = unlimited */
  slidingWindow: number;
  act: 'silu' | 'gelu' | 'gelu_new';
  qkvBias: boolean;
  outBias: boolean;
  mlpBias: boolean;
  parallelResidual: boolean;
  tieEmbeddings: boolean;
  padTokenId: number | null;
  bosTokenId: number | null;
  eosTokenId: number | null;
  numLabels: number;
  quantization: Record<string, unknown> | null;
  raw: Record<string, unknown>;
}

type Raw = Record<string, unknown>;

function num(raw: Raw, file: string, ...keys: string[]): number {
  for (const k of keys) if (typeof raw[k] === 'number') return raw[k] as number;
  throw new ConfigError(`${file}: missing numeric field ${keys.join(' / ')}`);
}
/** A size field: an integer in [lo, hi] (a config that contradicts any real model is refused here, before allocation). */
export function size(raw: Raw, file: string, lo: number, hi: number, ...keys: string[]): number {
  const v = num(raw, file, ...keys);
  if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`${file}: ${keys[0]} must be an integer in ${lo}…${hi}, got ${v}`);
  return v;
}
/** num_labels / id2label: how many labels a classification head has (1…100,000). */
export function labelCount(raw: Raw, file: string): number {
  const n = raw.id2label && typeof raw.id2label === 'object' ? Object.keys(raw.id2label).length : (raw.num_labels ?? 2);
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 100_000)
    throw new ConfigError(`${file}: num_labels must be an integer in 1…100000, got ${String(n)}`);
  return n as number;
}
function opt(raw: Raw, key: string): number | null {
  const v = raw[key];
  if (Array.isArray(v)) return typeof v[0] === 'number' ? v[0] : null;
  return typeof v === 'number' ? v : null;
}

/** A special token id: null, or an integer in 0…2^31 (a list: its first entry, as HF reads it). */
export function tokenId(raw: Raw, file: string, key: string): number | null {
  const v = opt(raw, key);
  if (v !== null && (!Number.isInteger(v) || v < 0 || v >= 2 ** 31))
    throw new ConfigError(`${file}: ${key} must be a token id (an integer >= 0), got ${v}`);
  return v;
}

export function parseConfig(raw: Raw, file = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}: must hold a JSON object`);
  const mt = raw.model_type as string;
  if (!SUPPORTED_MODEL_TYPES.includes(mt as ModelType))
    throw new ConfigError(`${file}: model_type '${mt}' is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')}, t5)`);
  const modelType = mt as ModelType;
  const family: Family = modelType === 'phi' ? 'phi' : modelType === 'gpt_neox' ? 'gpt_neox' : 'llama';
  const rope = (raw.rope_parameters ?? raw.rope_scaling ?? {}) as Raw;
  if (rope.rope_type && rope.rope_type !== 'default')
    throw new ConfigError(`${file}: rope_type '${String(rope.rope_type)}' is not supported yet (only 'default')`);
  const hidden = size(raw, file, 1, 1 << 20, 'hidden_size');
  const heads = size(raw, file, 1, 4096, 'num_attention_heads');
  const headDim = typeof raw.head_dim === 'number' ? size(raw, file, 1, 1 << 16, 'head_dim') : hidden / heads;
  if (!Number.isInteger(headDim)) throw new ConfigError(`${file}: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  const kvHeads = typeof raw.num_key_value_heads === 'number' ? size(raw, file, 1, heads, 'num_key_value_heads') : heads;
  if (heads % kvHeads) throw new ConfigError(`${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const eps = num(raw, file, 'rms_norm_eps', 'layer_norm_eps', 'layer_norm_epsilon');
  if (!(eps > 0 && eps < 1)) throw new ConfigError(`${file}: the norm epsilon must be in (0, 1), got ${eps}`);
  const theta =
    typeof rope.rope_theta === 'number'
      ? rope.rope_theta
      : typeof raw.rope_theta === 'number'
        ? raw.rope_theta
        : typeof raw.rotary_emb_base === 'number'
          ? raw.rotary_emb_base
          : 10000;
  const partial =
    typeof rope.partial_rotary_factor === 'number'
      ? rope.partial_rotary_factor
      : typeof raw.partial_rotary_factor === 'number'
        ? raw.partial_rotary_factor
        : typeof raw.rotary_pct === 'number'
          ? raw.rotary_pct
          : 1;
  const act = String(raw.hidden_act ?? raw.activation_function ?? 'silu');
  if (!['silu', 'gelu', 'gelu_new'].includes(act)) throw new ConfigError(`${file}: hidden_act '${act}' is not supported`);
  if (modelType === 'phi' && raw.qk_layernorm) throw new ConfigError(`${file}: phi with qk_layernorm is not supported`);
  const useWindow = modelType === 'mistral' || (modelType === 'qwen2' && raw.use_sliding_window === true);
  const labels = labelCount(raw, file);
  if (!(partial > 0 && partial <= 1)) throw new ConfigError(`${file}: partial_rotary_factor must be in (0, 1], got ${partial}`);
  if (!(theta > 0 && Number.isFinite(theta))) throw new ConfigError(`${file}: rope_theta must be a positive number, got ${theta}`);
  const window = useWindow && typeof raw.sliding_window === 'number' ? size(raw, file, 0, 2 ** 31, 'sliding_window') : 0;
  return {
    modelType,
    family,
    hidden,
    heads,
    headDim,
    vocabSize: size(raw, file, 1, 1 << 24, 'vocab_size'),
    layers: size(raw, file, 1, 4096, 'num_hidden_layers'),
    kvHeads,
    intermediate: size(raw, file, 1, 1 << 22, 'intermediate_size'),
    normEps: eps,
    ropeTheta: theta,
    rotaryDim: Math.floor(headDim * partial),
    slidingWindow: window,
    act: act as ModelConfig['act'],
    qkvBias: family === 'llama' ? modelType === 'qwen2' || raw.attention_bias === true : family === 'phi' || raw.attention_bias !== false,
    outBias: family === 'llama' ? raw.attention_bias === true : family === 'phi' || raw.attention_bias !== false,
    mlpBias: family === 'llama' ? raw.mlp_bias === true : true,
    parallelResidual: family === 'gpt_neox' ? raw.use_parallel_residual !== false : family === 'phi',
    tieEmbeddings: raw.tie_word_embeddings === true,
    padTokenId: tokenId(raw, file, 'pad_token_id'),
    bosTokenId: tokenId(raw, file, 'bos_token_id'),
    eosTokenId: tokenId(raw, file, 'eos_token_id'),
    numLabels: labels,
    quantization: (raw.quantization_config as Raw | undefined) ?? null,
    raw,
  };
}

export function readConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json');
  let raw: Raw;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  return parseConfig(raw, file);
}
