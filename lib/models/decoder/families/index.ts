// The decoder families by config family name.
import type { Family } from '../config.js';
import type { FamilySpec } from './spec.js';
import { llama } from './llama.js';
import { phi } from './phi.js';
import { gptNeox } from './gpt_neox.js';

export type { FamilySpec } from './spec.js';
export const FAMILIES: Record<Family, FamilySpec> = { llama, phi, gpt_neox: gptNeox };
