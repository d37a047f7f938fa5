// `plf-native experiment`: a grid of datasets × models × settings; finished runs are skipped, and
// results.json / results.csv / tables.md / f1.svg / gains.svg are rewritten after every run.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, brief } from '../errors.js';

const RUN_NAME = /^[A-Za-z0-9._-]{1,100}$/;
import { SETTINGS, type Setting } from '../prompts/templates.js';
import type { TrainConfig } from '../train/trainer.js';
import type { LoraConfig } from '../models/lora.js';
import { runSetting, type SettingHooks, type SettingRun } from './run.js';
import { writeReport, type RunResult } from './report.js';
import { setMatmulPrecision, type MatmulPrecision } from '../ops/linear.js';

export interface ExperimentConfig {
  out: string;
  datasets: { name: string; prepared: string }[];
  models: { name: string; path: string; quantize?: 'nf4' | null; settings?: Setting[] }[];
  settings: Setting[];
  lora?: LoraConfig;
  train?: Partial<TrainConfig>;
  maxLength?: number;
  limit?: { train?: number; val?: number; test?: number };
  /** where every run's model runs (default 'cpu') */
  device?: 'cpu' | 'cuda';
  /** cuda: the matmuls' operand precision (see setMatmulPrecision) */
  matmulPrecision?: MatmulPrecision;
  /** dtype of the hidden states (see LoadModelOptions.activations) */
  activations?: 'f32' | 'bf16' | 'f16';
  /** recompute each layer in backward instead of keeping its activations */
  gradientCheckpointing?: boolean;
}

export function readExperimentConfig(file: string): ExperimentConfig {
  let c: ExperimentConfig;
  try {
    c = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  checkExperiment(c, file);
  const base = path.dirname(path.resolve(file));
  const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(base, p));
  return { ...c, out: abs(c.out), datasets: c.datasets.map((d) => ({ ...d, prepared: abs(d.prepared) })), models: c.models.map((m) => ({ ...m, path: abs(m.path) })) };
}

/** Checks an experiment config's shape and names (they become folders under out/runs/); `file` names it in errors. */
export function checkExperiment(c: ExperimentConfig, file: string): void {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new ConfigError(`${file}: must hold a JSON object`);
  for (const k of ['out', 'datasets', 'models', 'settings'] as const) if (!c[k]) throw new ConfigError(`${file}: missing '${k}'`);
  if (!Array.isArray(c.datasets) || !Array.isArray(c.models) || !Array.isArray(c.settings))
    throw new ConfigError(`${file}: datasets, models and settings must be lists`);
  const settings = (where: string, list: unknown) => {
    if (!Array.isArray(list)) throw new ConfigError(`${file}: ${where} must be a list of settings`);
    for (const s of list) if (!SETTINGS.includes(s)) throw new ConfigError(`${file}: ${where}: unknown setting ${brief(s)} (use ${SETTINGS.join(', ')})`);
  };
  settings('settings', c.settings);
  // names become folders under out/runs/: one plain path segment each, never '..' or a separator
  const name = (where: string, v: unknown) => {
    if (typeof v !== 'string' || !RUN_NAME.test(v) || v === '.' || v === '..')
      throw new ConfigError(`${file}: ${where} ${brief(v)} must be a plain name (letters, digits, '.', '_', '-'; at most 100)`);
  };
  const seen = new Set<string>();
  c.datasets.forEach((d, i) => {
    name(`datasets[${i}].name`, d?.name);
    if (typeof d.prepared !== 'string') throw new ConfigError(`${file}: datasets[${i}].prepared must be a path`);
    if (seen.has(`d/${d.name}`)) throw new ConfigError(`${file}: datasets[${i}].name '${d.name}' is used twice`);
    seen.add(`d/${d.name}`);
  });
  c.models.forEach((m, i) => {
    name(`models[${i}].name`, m?.name);
    if (typeof m.path !== 'string') throw new ConfigError(`${file}: models[${i}].path must be a path`);
    if (m.settings !== undefined) settings(`models[${i}].settings`, m.settings);
    if (seen.has(`m/${m.name}`)) throw new ConfigError(`${file}: models[${i}].name '${m.name}' is used twice`);
    seen.add(`m/${m.name}`);
  });
  const oneOf = (k: 'device' | 'matmulPrecision' | 'activations', ok: readonly string[]) => {
    if (c[k] !== undefined && !ok.includes(c[k] as string)) throw new ConfigError(`${file}: ${k} ${typeof c[k] === 'string' ? `'${c[k]}'` : brief(c[k])} is not one of ${ok.join(', ')}`);
  };
  oneOf('device', ['cpu', 'cuda']);
  oneOf('matmulPrecision', ['highest', 'bf16', 'f16']);
  oneOf('activations', ['f32', 'bf16', 'f16']);
  if (c.gradientCheckpointing !== undefined && typeof c.gradientCheckpointing !== 'boolean')
    throw new ConfigError(`${file}: gradientCheckpointing must be true or false`);
  if (typeof c.out !== 'string') throw new ConfigError(`${file}: out must be a path`);
}

/** One run of a grid: its name (dataset/model/setting) and the runSetting options it is run with. */
export interface GridRun {
  name: string;
  dataset: string;
  model: string;
  /** JSON-able (no hooks, no tokenizer object): what a queue job carries */
  run: Omit<SettingRun, 'hooks' | 'tokenizer'>;
}

/** Every run of the grid, in order, with the options the local path and the queue's workers both use. */
export function gridRuns(c: ExperimentConfig): GridRun[] {
  checkExperiment(c, 'experiment config');
  const out: GridRun[] = [];
  for (const d of c.datasets)
    for (const m of c.models)
      for (const s of m.settings ?? c.settings)
        out.push({
          name: `${d.name}/${m.name}/${s}`,
          dataset: d.name,
          model: m.name,
          run: {
            prepared: d.prepared, model: m.path, modelName: m.name, setting: s, out: path.join(c.out, 'runs', d.name, m.name, s),
            quantize: m.quantize === undefined ? 'nf4' : m.quantize, lora: c.lora, train: c.train, maxLength: c.maxLength, limit: c.limit,
            resume: true, device: c.device, activations: c.activations, gradientCheckpointing: c.gradientCheckpointing,
          },
        });
  return out;
}

/** A finished run's result (its metrics.json), or null when the run has not finished. */
export function finishedResult(g: GridRun, out = g.run.out): RunResult | null {
  const r = readFinished(out);
  return r && { ...r, dataset: g.dataset, model: g.model };
}

/** The RunResult a finished run folder's metrics.json holds (its detail fields dropped), or null. */
export function readFinished(out: string): RunResult | null {
  const done = path.join(out, 'metrics.json');
  if (!fs.existsSync(done)) return null;
  const { metrics: _m, truncatedTest: _t, tunedThreshold: _h, ...r } = JSON.parse(fs.readFileSync(done, 'utf8'));
  return r as RunResult;
}

export async function runExperiment(c: ExperimentConfig, log: (m: string) => void = () => {},
                                    hooks?: (run: string) => SettingHooks): Promise<RunResult[]> {
  const results: RunResult[] = [];
  const runs = gridRuns(c);
  if (c.device === 'cuda') setMatmulPrecision(c.matmulPrecision ?? 'highest');
  for (const g of runs) {
    const done = finishedResult(g);
    if (done) {
      results.push(done);
      log(`skip ${g.name} (finished)`);
      continue;
    }
    log(`run ${g.name}`);
    const { eval: _e, ...r } = await runSetting({ ...g.run, hooks: hooks?.(g.name) });
    results.push({ ...r, dataset: g.dataset });
    writeReport(c.out, results);
  }
  writeReport(c.out, results);
  return results;
}
