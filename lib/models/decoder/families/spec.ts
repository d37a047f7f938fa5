// What distinguishes one decoder family from another: checkpoint names and how a layer is built.
import type { ModelConfig } from '../config.js';
import type { ModuleLoader } from '../../module-loader.js';
import type { Block } from '../blocks.js';

export interface FamilySpec {
  /** module path of the backbone (`model`, `gpt_neox`) */
  body: string;
  embed: string;
  finalNorm: string;
  normKind: 'rms' | 'layer';
  lmHead: string;
  lmHeadBias: boolean;
  /** default LoRA targets: every linear of a layer (the head and embeddings are never targets) */
  targets: string[];
  layer(ld: ModuleLoader, c: ModelConfig, i: number): Block;
}
