// A Llama-architecture checkpoint with seeded random weights (N(0, 0.02) linears, unit norms),
// written as an HF folder: for the demo (a model trained from scratch) and for benchmarks.
import fs from 'node:fs';
import path from 'node:path';
import { writeSafetensorsStream, type PlannedTensor } from '../io/checkpoint.js';
import { Rng } from '../util/random.js';

export interface LlamaShape {
  hidden: number; layers: number; heads: number; kvHeads?: number; intermediate: number; vocab: number;
  padTokenId?: number; bosTokenId?: number; eosTokenId?: number; ropeTheta?: number;
}

/** Writes config.json + model.safetensors; returns the parameter count. `repeatBlock` reuses one random block (fast, for GB-sized files). */
export function writeRandomLlama(dir: string, s: LlamaShape, o: { dtype?: 'f32' | 'bf16'; seed?: number; repeatBlock?: boolean; extraConfig?: object;
  /** std of q/k/embedding weights (default 0.02); larger values give sharper, input-dependent attention in an untrained model */
  sharpStd?: number } = {}): number {
  fs.mkdirSync(dir, { recursive: true });
  const dtype = o.dtype ?? 'f32', rng = new Rng(o.seed ?? 1234);
  const C = s.hidden, V = s.vocab, I = s.intermediate, H = s.heads, KV = s.kvHeads ?? H, D = C / H;
  const shapes: [string, number[], 'w' | 'norm'][] = [['model.embed_tokens.weight', [V, C], 'w'], ['lm_head.weight', [V, C], 'w'], ['model.norm.weight', [C], 'norm']];
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}`;
    shapes.push([`${p}.input_layernorm.weight`, [C], 'norm'], [`${p}.post_attention_layernorm.weight`, [C], 'norm'],
      [`${p}.self_attn.q_proj.weight`, [H * D, C], 'w'], [`${p}.self_attn.k_proj.weight`, [KV * D, C], 'w'],
      [`${p}.self_attn.v_proj.weight`, [KV * D, C], 'w'], [`${p}.self_attn.o_proj.weight`, [C, H * D], 'w'],
      [`${p}.mlp.gate_proj.weight`, [I, C], 'w'], [`${p}.mlp.up_proj.weight`, [I, C], 'w'], [`${p}.mlp.down_proj.weight`, [C, I], 'w']);
  }
  const block = o.repeatBlock ? Float32Array.from({ length: 1 << 20 }, () => rng.normal() * 0.02) : null;
  const toBytes = (a: Float32Array): Uint8Array => {
    if (dtype === 'f32') return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length), out = new Uint16Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;
    return new Uint8Array(out.buffer);
  };
  let params = 0;
  const plan: PlannedTensor[] = shapes.map(([name, shape, kind]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    params += n;
    return { name, dtype, shape, bytes: () => {
      const a = new Float32Array(n);
      if (kind === 'norm') a.fill(1);
      else if (block) for (let i = 0; i < n; i += block.length) a.set(block.subarray(0, Math.min(block.length, n - i)), i);
      else {
        const std = o.sharpStd && /(q_proj|k_proj|embed_tokens)/.test(name) ? o.sharpStd : 0.02;
        for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
      }
      return toBytes(a);
    } };
  });
  writeSafetensorsStream(path.join(dir, 'model.safetensors'), plan, { format: 'pt' });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: C, num_hidden_layers: s.layers, num_attention_heads: H,
    num_key_value_heads: KV, intermediate_size: I, vocab_size: V, rms_norm_eps: 1e-5, rope_theta: s.ropeTheta ?? 10000,
    hidden_act: 'silu', tie_word_embeddings: false, pad_token_id: s.padTokenId ?? 0, bos_token_id: s.bosTokenId ?? 1,
    eos_token_id: s.eosTokenId ?? 2, initializer_range: 0.02, max_position_embeddings: 4096, ...o.extraConfig,
  }, null, 2) + '\n');
  return params;
}
