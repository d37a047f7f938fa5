// LoRA configuration, PEFT's initialisation and PEFT's parameter names.
import { Tensor } from '../tensor.js';
import { Rng } from '../util/random.js';
import { ConfigError } from '../errors.js';
import type { Linear } from './layers.js';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout?: number;
  /** module names (last path component), default: every linear of the layers, never the head */
  targetModules?: string[];
  /** scale = alpha / √r instead of alpha / r */
  useRslora?: boolean;
  seed?: number;
}

export function loraScale(c: LoraConfig): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

/** A ~ kaiming_uniform(a=√5) = U(±1/√in), B = 0 (PEFT's default init). */
export function attachLora(lin: Linear, c: LoraConfig, rng: Rng): void {
  if (!Number.isInteger(c.r) || c.r < 1) throw new ConfigError(`LoRA r must be a positive integer, got ${c.r}`);
  const K = lin.inFeatures,
    N = lin.outFeatures,
    bound = 1 / Math.sqrt(K);
  const a = new Float32Array(c.r * K);
  for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-bound, bound);
  const d = lin.device;
  lin.lora = {
    A: Tensor.from(a, [c.r, K]).moveTo(d),
    B: Tensor.zeros([N, c.r], 'f32', d),
    gradA: Tensor.zeros([c.r, K], 'f32', d),
    gradB: Tensor.zeros([N, c.r], 'f32', d),
    scale: loraScale(c),
    dropout: c.dropout ?? 0,
  };
}

/** PEFT's in-memory names (what `named_parameters()` of a PeftModel shows). */
export const peftName = {
  loraA: (module: string) => `base_model.model.${module}.lora_A.default.weight`,
  loraB: (module: string) => `base_model.model.${module}.lora_B.default.weight`,
  saved: (module: string, suffix: string) => `base_model.model.${module}.modules_to_save.default.${suffix}`,
};
/** PEFT's names inside adapter_model.safetensors. */
export const adapterKey = {
  loraA: (module: string) => `base_model.model.${module}.lora_A.weight`,
  loraB: (module: string) => `base_model.model.${module}.lora_B.weight`,
  saved: (module: string, suffix: string) => `base_model.model.${module}.${suffix}`,
};
