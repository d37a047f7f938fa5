// Phi (Phi-1/1.5/2): LayerNorm with bias, attention and MLP in parallel off one norm, partial
// rotary, gelu_new, biases everywhere, lm_head with bias.
import type { ModelConfig } from '../config.js';
import type { ModuleLoader } from '../../module-loader.js';
import { Attention, Block, MLP } from '../blocks.js';
import type { FamilySpec } from './spec.js';

export const phi: FamilySpec = {
  body: 'model',
  embed: 'model.embed_tokens.weight',
  finalNorm: 'model.final_layernorm',
  normKind: 'layer',
  lmHead: 'lm_head',
  lmHeadBias: true,
  targets: ['q_proj', 'k_proj', 'v_proj', 'dense', 'fc1', 'fc2'],
  layer(ld: ModuleLoader, c: ModelConfig, i: number): Block {
    const p = `model.layers.${i}`;
    const { heads: H, kvHeads: KV, headDim: D, hidden: C, intermediate: I } = c;
    const attn = new Attention(
      c,
      {
        q: ld.linear(`${p}.self_attn.q_proj`, true, undefined, [H * D, C]),
        k: ld.linear(`${p}.self_attn.k_proj`, true, undefined, [KV * D, C]),
        v: ld.linear(`${p}.self_attn.v_proj`, true, undefined, [KV * D, C]),
        o: ld.linear(`${p}.self_attn.dense`, true, undefined, [C, H * D]),
      },
      i,
    );
    const mlp = new MLP(c.act, {
      up: ld.linear(`${p}.mlp.fc1`, true, undefined, [I, C]),
      down: ld.linear(`${p}.mlp.fc2`, true, undefined, [C, I]),
    });
    return new Block('shared-norm', ld.norm(`${p}.input_layernorm`, 'layer', c.normEps, undefined, C), null, attn, mlp);
  },
};
