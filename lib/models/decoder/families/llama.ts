// Llama, Mistral (sliding window) and Qwen2 (q/k/v bias): RMSNorm, SwiGLU, sequential residual.
import type { ModelConfig } from '../config.js';
import type { ModuleLoader } from '../../module-loader.js';
import { Attention, Block, MLP } from '../blocks.js';
import type { FamilySpec } from './spec.js';

export const llama: FamilySpec = {
  body: 'model',
  embed: 'model.embed_tokens.weight',
  finalNorm: 'model.norm',
  normKind: 'rms',
  lmHead: 'lm_head',
  lmHeadBias: false,
  targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  layer(ld: ModuleLoader, c: ModelConfig, i: number): Block {
    const p = `model.layers.${i}`;
    const { heads: H, kvHeads: KV, headDim: D, hidden: C, intermediate: I } = c;
    const attn = new Attention(
      c,
      {
        q: ld.linear(`${p}.self_attn.q_proj`, c.qkvBias, undefined, [H * D, C]),
        k: ld.linear(`${p}.self_attn.k_proj`, c.qkvBias, undefined, [KV * D, C]),
        v: ld.linear(`${p}.self_attn.v_proj`, c.qkvBias, undefined, [KV * D, C]),
        o: ld.linear(`${p}.self_attn.o_proj`, c.outBias, undefined, [C, H * D]),
      },
      i,
    );
    const mlp = new MLP('silu', {
      gate: ld.linear(`${p}.mlp.gate_proj`, c.mlpBias, undefined, [I, C]),
      up: ld.linear(`${p}.mlp.up_proj`, c.mlpBias, undefined, [I, C]),
      down: ld.linear(`${p}.mlp.down_proj`, c.mlpBias, undefined, [C, I]),
    });
    return new Block(
      'sequential',
      ld.norm(`${p}.input_layernorm`, 'rms', c.normEps, undefined, C),
      ld.norm(`${p}.post_attention_layernorm`, 'rms', c.normEps, undefined, C),
      attn,
      mlp,
    );
  },
};
