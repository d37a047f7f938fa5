// GPT-NeoX (StableLM-alpha, Pythia): fused query_key_value in per-head [q|k|v] layout, partial
// rotary (rotary_pct), LayerNorm, exact GELU, parallel residual with two norms.
import type { ModelConfig } from '../config.js';
import type { ModuleLoader } from '../../module-loader.js';
import { Attention, Block, MLP } from '../blocks.js';
import type { FamilySpec } from './spec.js';

export const gptNeox: FamilySpec = {
  body: 'gpt_neox',
  embed: 'gpt_neox.embed_in.weight',
  finalNorm: 'gpt_neox.final_layer_norm',
  normKind: 'layer',
  lmHead: 'embed_out',
  lmHeadBias: false,
  targets: ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h'],
  layer(ld: ModuleLoader, c: ModelConfig, i: number): Block {
    const p = `gpt_neox.layers.${i}`;
    const { heads: H, headDim: D, hidden: C, intermediate: I } = c;
    const attn = new Attention(
      c,
      {
        qkv: ld.linear(`${p}.attention.query_key_value`, c.qkvBias, undefined, [3 * H * D, C]),
        o: ld.linear(`${p}.attention.dense`, c.outBias, undefined, [C, H * D]),
      },
      i,
    );
    const mlp = new MLP(c.act, {
      up: ld.linear(`${p}.mlp.dense_h_to_4h`, true, undefined, [I, C]),
      down: ld.linear(`${p}.mlp.dense_4h_to_h`, true, undefined, [C, I]),
    });
    return new Block(
      c.parallelResidual ? 'two-norms' : 'sequential',
      ld.norm(`${p}.input_layernorm`, 'layer', c.normEps, undefined, C),
      ld.norm(`${p}.post_attention_layernorm`, 'layer', c.normEps, undefined, C),
      attn,
      mlp,
    );
  },
};
