// `plf-native demo --synthetic`: the whole pipeline offline on the CPU in minutes — a seeded SYNTHETIC
// multi-annotator emotion dataset whose annotators have distinct label habits, a small Llama
// initialised from scratch with a byte-level tokenizer, all 7 settings, and the gain table + SVG.
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../util/random.js';
import { runPrepare } from '../data/run.js';
import { writeRandomLlama } from '../models/random.js';
import { ByteTokenizer } from '../io/tokenizer.js';
import { packageRoot } from '../native/loader.js';
import { SETTINGS, type Setting } from '../prompts/templates.js';
import { runSetting, type SettingHooks } from './run.js';
import { writeReport, paperTables, type RunResult } from './report.js';
import { io, writeFileAtomic } from '../io/files.js';
import { runRealDemo, type RealDemoOptions } from './demo-real.js';

export const DEMO_LABELS = ['anger', 'fear', 'joy', 'sadness', 'surprise'];

const EVENTS: [string, string[]][] = [
  ['won a trip to the sea', ['joy', 'surprise']], ['lost the house keys again', ['anger']], ['got the flu before the wedding', ['sadness']],
  ['heard steps in the attic at night', ['fear']], ['dropped the new phone in the lake', ['anger', 'sadness']],
  ['called after ten silent years', ['surprise', 'joy']], ['missed the last train home', ['anger', 'sadness']],
  ['passed the driving test', ['joy']], ['saw a snake under the bed', ['fear', 'surprise']], ['said goodbye to an old dog', ['sadness']],
  ['found money in an old coat', ['joy', 'surprise']], ['was shouted at by the boss', ['anger', 'fear']],
];
const WHO = ['My sister', 'My neighbour', 'Our teacher', 'My friend', 'The old man next door', 'My cousin', 'A colleague', 'My brother',
  'The new student', 'Grandma'];

/** items × annotators rows; each annotator keeps the event's emotions with some probability and adds their own habit. */
export function syntheticRows(seed = 42, items = 240, perItem = 4): string[][] {
  const rng = new Rng(seed);
  const annotators = Array.from({ length: 10 }, (_, i) => ({
    id: `u${i}`,
    habit: DEMO_LABELS[i % DEMO_LABELS.length],      // the label this person sees everywhere
    habitRate: 0.55 + 0.04 * i,
    keepRate: 0.75 - 0.03 * i,
    avoid: DEMO_LABELS[(i + 2) % DEMO_LABELS.length], // the label this person never gives
  }));
  const rows: string[][] = [['id', 'annotator', 'text', 'labels']];
  for (let it = 0; it < items; it++) {
    const [event, base] = EVENTS[it % EVENTS.length];
    const text = `${WHO[Math.floor(it / EVENTS.length) % WHO.length]} ${event}.`;
    const chosen = new Set<number>();
    while (chosen.size < perItem) chosen.add(Math.floor(rng.next() * annotators.length));
    for (const a of [...chosen].sort((x, y) => x - y).map((i) => annotators[i])) {
      const labels = new Set(base.filter(() => rng.next() < a.keepRate));
      if (rng.next() < a.habitRate) labels.add(a.habit);
      labels.delete(a.avoid);
      if (!labels.size) labels.add(a.habit);
      rows.push([`item${it}`, a.id, text, [...labels].sort().join(',')]);
    }
  }
  return rows;
}

export interface DemoOptions {
  out?: string;
  /** a prepared folder (plf-native prepare) to run on instead of the synthetic data */
  data?: string;
  settings?: Setting[];
  seed?: number;
  epochs?: number;
  /** synthetic items (each rated by 4 of the 10 annotators) */
  items?: number;
  /** with --data: at most this many train rows (val and test get a fifth of it) */
  limit?: number;
  log?: (msg: string) => void;
  /** progress callbacks per setting (the CLI draws bars) */
  hooks?: (setting: Setting) => SettingHooks;
  /** the synthetic smoke test (a model trained fully from scratch) instead of the real pipeline */
  synthetic?: boolean;
  /** the real pipeline's data folder (see findDataDir) */
  dataDir?: string;
  pretrainMinutes?: number;
  pretrainHooks?: RealDemoOptions['pretrainHooks'];
}

/** The demo: the real pipeline (demo-real.ts) unless `synthetic` or a prepared `data` folder is given. */
export async function runDemo(o: DemoOptions = {}): Promise<{ results: RunResult[]; tables: string; out: string }> {
  const log = o.log ?? ((m: string) => console.log(m));
  if (!o.synthetic && !o.data)
    return runRealDemo({ out: o.out ?? 'plf-demo', dataDir: o.dataDir, settings: o.settings, seed: o.seed, pretrainMinutes: o.pretrainMinutes, log,
      hooks: o.hooks, pretrainHooks: o.pretrainHooks });
  return runSyntheticDemo(o, log);
}

async function runSyntheticDemo(o: DemoOptions, log: (m: string) => void): Promise<{ results: RunResult[]; tables: string; out: string }> {
  const out = path.resolve(o.out ?? 'plf-demo');
  const seed = o.seed ?? 42;
  io('create', out, () => fs.mkdirSync(out, { recursive: true }));
  let prepared = o.data;
  if (!prepared) {
    log('Data: SYNTHETIC — a seeded, made-up multi-annotator emotion dataset (10 annotators with distinct label habits); not real data.');
    const raw = path.join(out, 'synthetic.csv');
    writeFileAtomic(raw, syntheticRows(seed, o.items ?? 240).map((r) => r.map((f) => (/[",\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',')).join('\n') + '\n');
    prepared = path.join(out, 'prepared');
    const p = await runPrepare({ dataset: 'custom', name: 'synthetic-emotions', input: [raw], split: 'random:0.7,0.15,0.15', out: prepared, seed, overwrite: true,
      columns: { text: 'text', annotator: 'annotator', item: 'id', labelList: 'labels', labelNames: DEMO_LABELS } });
    log(p.text);
  } else {
    log(`Data: ${prepared} (prepared by plf-native prepare)`);
  }
  const modelDir = path.join(out, 'model');
  const tok = new ByteTokenizer();
  writeRandomLlama(modelDir, { hidden: 96, layers: 2, heads: 4, intermediate: 192, vocab: tok.vocabSize }, { seed });
  // the byte tokenizer in HF format, so the model folder also works with plf-native train / eval
  const shipped = path.join(packageRoot(), 'experiments', 'byte-tokenizer');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(shipped, f), path.join(modelDir, f));
  log('Model: a 2-layer Llama (hidden 96) initialised from scratch with a byte-level tokenizer, trained fully (every weight):\n' +
    '  a random base gives LoRA nothing to adapt, so NF4 + LoRA (the paper\'s QLoRA) is for pretrained models (plf-native train).');
  const results: RunResult[] = [];
  for (const setting of o.settings ?? [...SETTINGS]) {
    const t = performance.now();
    const r = await runSetting({
      prepared, model: modelDir, modelName: 'demo-llama', setting, out: path.join(out, 'runs', setting), tokenizer: tok, fullFinetune: true, overwrite: true,
      maxLength: 1024, train: { lr: 3e-3, batchSize: 8, gradAccum: 1, epochs: o.epochs ?? 6, seed, evalBatchSize: 32, bestBy: 'f1', evalEvery: 0, evalEveryEpochs: 2, weightDecay: 0 },
      hooks: o.hooks?.(setting),
      limit: o.data ? { train: o.limit ?? 2000, val: Math.ceil((o.limit ?? 2000) / 10), test: Math.ceil((o.limit ?? 2000) / 5) } : undefined,
    });
    results.push(r);
    log(`  ${setting.padEnd(6)} F1-macro ${(100 * r.f1Macro).toFixed(2)}  (${r.rows} test rows, ${((performance.now() - t) / 1e3).toFixed(0)} s)`);
  }
  writeReport(out, results);
  const tables = paperTables(results);
  log(`\n${tables}\nWritten: ${out}/results.json, results.csv, tables.md, f1.svg, gains.svg`);
  return { results, tables, out };
}
