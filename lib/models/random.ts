// Llama-architecture models with seeded random weights (N(0, 0.02) linears, unit norms): written
// as an HF folder (the demo trains one from scratch; CPU benchmarks load one), or generated on
// demand as a TensorSource (GPU benchmarks of 7B shapes without writing a 14 GB checkpoint).
import fs from 'node:fs';
import path from 'node:path';
import { writeSafetensorsStream, type PlannedTensor } from '../io/safetensors.js';
import { type TensorSource } from '../io/checkpoint.js';
import { FormatError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { Rng } from '../util/random.js';
import { parseConfig } from './decoder/config.js';
import { buildDecoderModel, type DecoderModel } from './decoder/model.js';
import type { LoadModelOptions } from './model.js';
import type { NF4Tensor } from '../ops/nf4.js';
import { io, writeFileAtomic } from '../io/files.js';

export interface LlamaShape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads?: number;
  intermediate: number;
  vocab: number;
  padTokenId?: number;
  bosTokenId?: number;
  eosTokenId?: number;
  ropeTheta?: number;
}

/** Mistral-7B-v0.1's shapes (the paper's largest model; the GPU benchmarks' reference). */
export const MISTRAL_7B: LlamaShape & { slidingWindow: number } = {
  hidden: 4096,
  layers: 32,
  heads: 32,
  kvHeads: 8,
  intermediate: 14336,
  vocab: 32000,
  ropeTheta: 10000,
  slidingWindow: 4096,
};

type Kind = 'w' | 'norm';

/** Every tensor of a Llama checkpoint of this shape: name, shape, kind. */
function llamaTensors(s: LlamaShape): [string, number[], Kind][] {
  const C = s.hidden,
    V = s.vocab,
    I = s.intermediate,
    H = s.heads,
    KV = s.kvHeads ?? H,
    D = C / H;
  const out: [string, number[], Kind][] = [
    ['model.embed_tokens.weight', [V, C], 'w'],
    ['lm_head.weight', [V, C], 'w'],
    ['model.norm.weight', [C], 'norm'],
  ];
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      [`${p}.input_layernorm.weight`, [C], 'norm'],
      [`${p}.post_attention_layernorm.weight`, [C], 'norm'],
      [`${p}.self_attn.q_proj.weight`, [H * D, C], 'w'],
      [`${p}.self_attn.k_proj.weight`, [KV * D, C], 'w'],
      [`${p}.self_attn.v_proj.weight`, [KV * D, C], 'w'],
      [`${p}.self_attn.o_proj.weight`, [C, H * D], 'w'],
      [`${p}.mlp.gate_proj.weight`, [I, C], 'w'],
      [`${p}.mlp.up_proj.weight`, [I, C], 'w'],
      [`${p}.mlp.down_proj.weight`, [C, I], 'w'],
    );
  }
  return out;
}

/** The config.json of a Llama of this shape. */
export function llamaConfig(s: LlamaShape, extra: object = {}): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads ?? s.heads,
    intermediate_size: s.intermediate,
    vocab_size: s.vocab,
    rms_norm_eps: 1e-5,
    rope_theta: s.ropeTheta ?? 10000,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    pad_token_id: s.padTokenId ?? 0,
    bos_token_id: s.bosTokenId ?? 1,
    eos_token_id: s.eosTokenId ?? 2,
    initializer_range: 0.02,
    max_position_embeddings: 4096,
    ...extra,
  };
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** n values of a repeated random block (or ones for norms): fast enough for GB-sized models. */
function repeated(block: Float32Array, n: number, kind: Kind): Float32Array {
  const a = new Float32Array(n);
  if (kind === 'norm') return a.fill(1);
  for (let i = 0; i < n; i += block.length) a.set(block.subarray(0, Math.min(block.length, n - i)), i);
  return a;
}

/** Writes config.json + model.safetensors; returns the parameter count. `repeatBlock` reuses one random block (fast, for GB-sized files). */
export function writeRandomLlama(
  dir: string,
  s: LlamaShape,
  o: {
    dtype?: 'f32' | 'bf16';
    seed?: number;
    repeatBlock?: boolean;
    extraConfig?: object;
    /** std of q/k/embedding weights (default 0.02); larger values give sharper, input-dependent attention in an untrained model */
    sharpStd?: number;
  } = {},
): number {
  io('create', dir, () => fs.mkdirSync(dir, { recursive: true }));
  const dtype = o.dtype ?? 'f32',
    rng = new Rng(o.seed ?? 1234);
  const block = o.repeatBlock ? Float32Array.from({ length: 1 << 20 }, () => rng.normal() * 0.02) : null;
  const toBytes = (a: Float32Array): Uint8Array => {
    if (dtype === 'f32') return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length),
      out = new Uint16Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;
    return new Uint8Array(out.buffer);
  };
  let params = 0;
  const plan: PlannedTensor[] = llamaTensors(s).map(([name, shape, kind]) => {
    const n = numel(shape);
    params += n;
    return {
      name,
      dtype,
      shape,
      bytes: () => {
        if (block || kind === 'norm') return toBytes(repeated(block!, n, kind));
        const a = new Float32Array(n);
        const std = o.sharpStd && /(q_proj|k_proj|embed_tokens)/.test(name) ? o.sharpStd : 0.02;
        for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
        return toBytes(a);
      },
    };
  });
  writeSafetensorsStream(path.join(dir, 'model.safetensors'), plan, { format: 'pt' });
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(llamaConfig(s, o.extraConfig), null, 2) + '\n');
  return params;
}

/** A Llama's tensors generated when asked for (f32, one repeated random block), never written anywhere. */
export class RandomLlamaSource implements TensorSource {
  readonly dir = 'random llama weights';
  private readonly tensors: Map<string, [number[], Kind]>;
  private readonly block: Float32Array;

  constructor(s: LlamaShape, seed = 1234) {
    this.tensors = new Map(llamaTensors(s).map(([n, shape, kind]) => [n, [shape, kind]]));
    const rng = new Rng(seed);
    this.block = Float32Array.from({ length: 1 << 20 }, () => rng.normal() * 0.02);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }
  shape(name: string): number[] {
    return [...this.entry(name)[0]];
  }
  tensor(name: string): Tensor {
    const [shape, kind] = this.entry(name);
    return Tensor.from(repeated(this.block, numel(shape), kind), shape);
  }
  f32(name: string): Tensor {
    return this.tensor(name);
  }
  isNF4(): boolean {
    return false;
  }
  nf4(name: string): NF4Tensor {
    throw new FormatError(`${this.dir}: '${name}' is not stored as NF4`);
  }

  private entry(name: string): [number[], Kind] {
    const e = this.tensors.get(name);
    if (!e) throw new FormatError(`${this.dir}: no tensor '${name}'`);
    return e;
  }
}

/** A random Llama (Mistral with `slidingWindow`) loaded straight onto opts.device (NF4 with opts.quantize). */
export function randomLlamaModel(
  s: LlamaShape & { slidingWindow?: number },
  opts: LoadModelOptions & { seed?: number } = {},
): DecoderModel {
  const extra = s.slidingWindow ? { model_type: 'mistral', architectures: ['MistralForCausalLM'], sliding_window: s.slidingWindow } : {};
  return buildDecoderModel(parseConfig(llamaConfig(s, extra), 'random llama config'), new RandomLlamaSource(s, opts.seed), opts);
}
