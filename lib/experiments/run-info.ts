// run.json: a trained run folder describes itself (base model, setting, dataset, labels, prompt
// template, max length, LoRA, quantization, device options), so it can be evaluated or served
// without its prepared data. Written by runSetting beside best/; read back with every field checked.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, brief } from '../errors.js';
import { writeFileAtomic } from '../io/files.js';
import { SETTINGS, type Setting, type TemplateSpec } from '../prompts/templates.js';
import type { LoraConfig } from '../models/lora.js';

export interface RunInfo {
  version: 1;
  /** the base model folder (absolute) and the name results use */
  base: string;
  modelName: string;
  setting: Setting;
  dataset: string;
  /** the prompt template, its label names included (spec.labels) */
  template: TemplateSpec;
  maxLength: number;
  /** null: every weight was trained (best/ holds full weights) */
  lora: LoraConfig | null;
  quantize: 'nf4' | null;
  device: 'cpu' | 'cuda';
  activations: 'f32' | 'bf16' | 'f16';
  /** CLS settings: a label is predicted when its logit > 0 */
  task: 'sequence-classification' | 'causal-lm';
  /** the tokenizer trained with: the base folder's ('model'), the byte tokenizer, or one given in code ('custom'); absent in older runs: 'model' */
  tokenizer?: 'model' | 'byte' | 'custom';
  created: string;
}

export function writeRunInfo(dir: string, info: Omit<RunInfo, 'version' | 'created'>): void {
  writeFileAtomic(path.join(dir, 'run.json'), JSON.stringify({ version: 1, ...info, created: new Date().toISOString() }, null, 2) + '\n');
}

/** A run folder's run.json, every field checked (errors name the file and the field). */
export function readRunInfo(dir: string): RunInfo {
  const file = path.join(dir, 'run.json');
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message} (a run trained by this version writes run.json beside best/)`);
  }
  const fail = (field: string, want: string): never => {
    throw new ConfigError(`${file}: ${field} must be ${want}, got ${brief(j?.[field])}`);
  };
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new ConfigError(`${file}: must hold a JSON object`);
  if (j.version !== 1) fail('version', '1');
  for (const k of ['base', 'modelName', 'dataset', 'created'] as const) if (typeof j[k] !== 'string') fail(k, 'a string');
  if (!SETTINGS.includes(j.setting as Setting)) fail('setting', `one of ${SETTINGS.join(', ')}`);
  const t = j.template as TemplateSpec;
  if (typeof t !== 'object' || t === null || !Array.isArray(t.labels) || !t.labels.length || !t.labels.every((l) => typeof l === 'string'))
    fail('template', 'a prompt template with its labels');
  for (const k of ['noun', 'nounPlural', 'section', 'description'] as const) if (typeof t[k] !== 'string') fail('template', `a template with ${k}`);
  if (!Number.isInteger(j.maxLength) || (j.maxLength as number) < 1) fail('maxLength', 'a positive integer');
  const lora = j.lora as LoraConfig | null;
  if (lora !== null && (typeof lora !== 'object' || !Number.isInteger(lora.r) || typeof lora.alpha !== 'number')) fail('lora', 'null or {r, alpha, …}');
  if (j.quantize !== null && j.quantize !== 'nf4') fail('quantize', "'nf4' or null");
  if (j.device !== 'cpu' && j.device !== 'cuda') fail('device', "'cpu' or 'cuda'");
  if (!['f32', 'bf16', 'f16'].includes(j.activations as string)) fail('activations', "'f32', 'bf16' or 'f16'");
  if (j.task !== 'sequence-classification' && j.task !== 'causal-lm') fail('task', "'sequence-classification' or 'causal-lm'");
  if (j.tokenizer !== undefined && !['model', 'byte', 'custom'].includes(j.tokenizer as string)) fail('tokenizer', "'model', 'byte' or 'custom'");
  return j as unknown as RunInfo;
}
