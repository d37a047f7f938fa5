// What a server serves, described from run.json alone: each run (by NAME or its folder's name)
// and the base model(s) under them. The HTTP thread validates requests against these
// descriptions; the worker loads the weights (engine.ts). Models with the same `group` share one
// copy of the base weights.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { readRunInfo } from '../experiments/run-info.js';
import type { Setting, TemplateSpec } from '../prompts/templates.js';

/** `--run [NAME=]DIR`: a trained run folder and the name clients ask for (default: the folder's name). */
export interface RunSpec {
  name?: string;
  dir: string;
}

export interface ServeModelOptions {
  runs?: (RunSpec | string)[];
  /** the base model folder of every run (overrides run.json's base, e.g. after a move); served itself too */
  base?: string;
  /** the base model's id (default: the runs' modelName, else the folder's name) */
  baseName?: string;
  /** 'byte' or a tokenizer folder (default: what each run was trained with; the base folder's) */
  tokenizer?: string;
  /** where the models run (default: what each run was trained on) */
  device?: 'cpu' | 'cuda';
  /** the base model alone (no runs): NF4 or as stored (default) */
  quantize?: 'nf4' | null;
  /** the base model's prompt limit in tokens (default 2048) */
  maxLength?: number;
}

export interface ServedModel {
  id: string;
  kind: 'run' | 'base';
  /** 'classify': CLS runs (POST /v1/moderations); 'generate': LM runs and bases (POST /v1/chat/completions) */
  task: 'classify' | 'generate';
  setting: Setting | null;
  /** a -P setting: requests must carry the annotator id in `user` */
  personal: boolean;
  template: TemplateSpec | null;
  maxLength: number;
  /** the run folder (null for a base) */
  dir: string | null;
  base: string;
  group: string;
  quantize: 'nf4' | null;
  device: 'cpu' | 'cuda';
  activations: 'f32' | 'bf16' | 'f16';
  /** 'byte' or a folder with tokenizer.json */
  tokenizer: string;
  /** best/ holds full weights (a run trained fully): it loads on its own */
  fullWeights: boolean;
  created: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$/;

export function parseRunSpec(s: RunSpec | string): RunSpec {
  if (typeof s !== 'string') return s;
  const eq = s.indexOf('=');
  // NAME=DIR; a folder whose path holds '=' is given as ./path
  if (eq > 0 && NAME.test(s.slice(0, eq)) && !s.slice(0, eq).includes('/')) return { name: s.slice(0, eq), dir: s.slice(eq + 1) };
  return { dir: s };
}

/** Every served model, checked: names unique and well-formed, run folders complete, tokenizers known. */
export function describeModels(o: ServeModelOptions): ServedModel[] {
  const runs = (o.runs ?? []).map(parseRunSpec);
  if (!runs.length && !o.base) throw new ConfigError('serve: give at least one --run [NAME=]DIR or a --base MODEL');
  const out: ServedModel[] = [];
  const bases = new Map<string, ServedModel>();
  const baseFor = (
    dir: string,
    name: string,
    m: Omit<ServedModel, 'id' | 'kind' | 'task' | 'setting' | 'personal' | 'template' | 'dir' | 'fullWeights' | 'created' | 'maxLength'>,
  ) => {
    const key = m.group;
    if (!bases.has(key))
      bases.set(key, {
        ...m,
        id: name,
        kind: 'base',
        task: 'generate',
        setting: null,
        personal: false,
        template: null,
        dir: null,
        maxLength: o.maxLength ?? 2048,
        fullWeights: false,
        created: Math.floor(fs.statSync(dir).mtimeMs / 1000),
      });
  };
  for (const r of runs) {
    const dir = path.resolve(r.dir);
    const info = readRunInfo(dir);
    const best = path.join(dir, 'best');
    if (!fs.existsSync(best)) throw new ConfigError(`${dir}: no best/ (the run has not finished training)`);
    const base = path.resolve(o.base ?? info.base);
    if (!fs.existsSync(path.join(base, 'config.json')))
      throw new ConfigError(`${dir}: its base model ${base} has no config.json (run.json names it; pass --base MODEL where it lives now)`);
    const tokenizer = resolveTokenizer(o.tokenizer, info.tokenizer ?? 'model', base, dir);
    const device = o.device ?? info.device;
    const fullWeights = fs.existsSync(path.join(best, 'model.safetensors'));
    const group = fullWeights ? `weights:${dir}` : JSON.stringify([base, info.quantize, device, info.activations, tokenizer]);
    const shared = { base, group, quantize: info.quantize, device, activations: info.activations, tokenizer };
    out.push({
      ...shared,
      id: r.name ?? path.basename(dir),
      kind: 'run',
      task: info.task === 'sequence-classification' ? 'classify' : 'generate',
      setting: info.setting,
      personal: info.setting.endsWith('-P'),
      template: info.template,
      maxLength: info.maxLength,
      dir,
      fullWeights,
      created: Math.floor(Date.parse(info.created) / 1000) || 0,
    });
    if (!fullWeights) baseFor(base, o.baseName ?? info.modelName, shared);
  }
  if (o.base && !bases.size) {
    const base = path.resolve(o.base);
    if (!fs.existsSync(path.join(base, 'config.json')))
      throw new ConfigError(`--base ${base}: no config.json (a Hugging Face model folder is expected)`);
    const tokenizer = resolveTokenizer(o.tokenizer, 'model', base, base);
    const shared = { base, quantize: o.quantize ?? null, device: o.device ?? 'cpu', activations: 'f32' as const, tokenizer };
    baseFor(base, o.baseName ?? path.basename(base), {
      ...shared,
      group: JSON.stringify([base, shared.quantize, shared.device, 'f32', tokenizer]),
    });
  }
  out.push(...bases.values());
  const seen = new Set<string>();
  for (const m of out) {
    if (!NAME.test(m.id))
      throw new ConfigError(`serve: model name '${m.id}' must be 1–128 letters, digits or ._:@/+- (rename it with --run NAME=DIR)`);
    if (seen.has(m.id))
      throw new ConfigError(`serve: two models are named '${m.id}' (name runs with --run NAME=DIR, the base with --base-name)`);
    seen.add(m.id);
  }
  return out;
}

function resolveTokenizer(given: string | undefined, trained: 'model' | 'byte' | 'custom', base: string, dir: string): string {
  if (given !== undefined) {
    if (given === 'byte') return 'byte';
    const t = path.resolve(given);
    if (!fs.existsSync(path.join(t, 'tokenizer.json')))
      throw new ConfigError(`--tokenizer ${t}: no tokenizer.json (give a folder with one, or 'byte')`);
    return t;
  }
  if (trained === 'byte') return 'byte';
  if (trained === 'custom') throw new ConfigError(`${dir}: the run was trained with a tokenizer given in code; pass --tokenizer DIR|byte`);
  if (!fs.existsSync(path.join(base, 'tokenizer.json'))) throw new ConfigError(`${base}: no tokenizer.json (pass --tokenizer DIR|byte)`);
  return base;
}
