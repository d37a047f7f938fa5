// Several seeds of the demo in one table: F1-macro and F1-micro per setting as mean ± sd, the
// per-user F1-macro mean, how many annotators the user id helps (CLS → CLS-P, LM → LM-P, per user,
// summed over seeds), and the gains — read from each seed's run folders (predictions.jsonl).
import fs from 'node:fs';
import path from 'node:path';
import { SETTINGS, type Setting } from '../prompts/templates.js';
import { multilabelMetrics } from '../eval/metrics.js';
import { readRunInfo } from './run-info.js';
import { groupedBarChart, gainBarChart, type Bar } from './charts.js';

interface SeedRun {
  f1Macro: number;
  f1Micro: number;
  tunedMacro: number | null;
  perUser: Map<string, number>;
}

const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
const sd = (a: number[]) => (a.length < 2 ? 0 : Math.sqrt(a.reduce((s, x) => s + (x - mean(a)) ** 2, 0) / (a.length - 1)));
const pm = (a: number[]) => (a.length ? `${(100 * mean(a)).toFixed(2)} ± ${(100 * sd(a)).toFixed(2)}` : '–');

function readRun(dir: string): SeedRun | null {
  const m = path.join(dir, 'metrics.json');
  if (!fs.existsSync(m)) return null;
  const metrics = JSON.parse(fs.readFileSync(m, 'utf8'));
  const labels = fs.existsSync(path.join(dir, 'run.json')) ? readRunInfo(dir).template.labels : Object.keys(metrics.metrics.perLabel);
  const rows = fs
    .readFileSync(path.join(dir, 'predictions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { user: string; predicted: string[]; truth: string[] });
  const bits = (names: string[]) => Uint8Array.from(labels, (l) => (names.includes(l) ? 1 : 0));
  const perUser = new Map<string, number>();
  for (const u of new Set(rows.map((r) => r.user))) {
    const mine = rows.filter((r) => r.user === u);
    perUser.set(u, multilabelMetrics(labels, mine.map((r) => bits(r.truth)), mine.map((r) => bits(r.predicted))).f1Macro);
  }
  return { f1Macro: metrics.f1Macro, f1Micro: metrics.f1Micro, tunedMacro: metrics.tunedThreshold?.metrics.f1Macro ?? null, perUser };
}

type SeedRuns = Map<Setting, SeedRun[]>;

/** Every setting's finished runs in the seeds' folders, read once. */
function readSeeds(outs: string[]): SeedRuns {
  const runs: SeedRuns = new Map();
  for (const s of SETTINGS) runs.set(s, outs.flatMap((o) => readRun(path.join(o, 'runs', s)) ?? []));
  return runs;
}

/** The table and both figures of several demo output folders (one per seed), from one read of their runs. */
export function seedReport(outs: string[]): { table: string; f1: string; gains: string } {
  const runs = readSeeds(outs);
  return { table: summaryOf(runs, outs.length), ...figuresOf(runs, outs.length) };
}

/** The markdown table of several demo output folders (one per seed). */
export function seedSummary(outs: string[]): string {
  return summaryOf(readSeeds(outs), outs.length);
}

function summaryOf(runs: SeedRuns, seeds: number): string {
  const lines = [
    `| setting | F1-macro (mean ± sd, ${seeds} seeds) | F1-micro | per-user F1-macro (mean) | F1-macro, thresholds tuned on val |`,
    '|---|---|---|---|---|',
  ];
  for (const s of SETTINGS) {
    const r = runs.get(s)!;
    if (!r.length) continue;
    const tuned = r.flatMap((x) => (x.tunedMacro === null ? [] : [x.tunedMacro]));
    lines.push(`| ${s} | ${pm(r.map((x) => x.f1Macro))} | ${pm(r.map((x) => x.f1Micro))} | ${pm(r.map((x) => mean([...x.perUser.values()])))} | ${tuned.length ? pm(tuned) : '–'} |`);
  }
  lines.push('', '| gain | F1-macro gain (mean ± sd) | with thresholds tuned on val | annotators better / worse / equal with the user id (all seeds) |', '|---|---|---|---|');
  for (const [a, b] of [['CLS', 'CLS-P'], ['LM', 'LM-P']] as const) {
    const ra = runs.get(a)!,
      rb = runs.get(b)!;
    if (!ra.length || ra.length !== rb.length) continue;
    let better = 0,
      worse = 0,
      equal = 0;
    ra.forEach((x, i) => {
      for (const [u, f] of x.perUser) {
        const g = (rb[i].perUser.get(u) ?? 0) - f;
        if (g > 1e-9) better++;
        else if (g < -1e-9) worse++;
        else equal++;
      }
    });
    const tuned = ra.every((x, i) => x.tunedMacro !== null && rb[i].tunedMacro !== null) ? pm(ra.map((x, i) => rb[i].tunedMacro! - x.tunedMacro!)) : '–';
    lines.push(`| ${a} → ${b} | ${pm(ra.map((x, i) => rb[i].f1Macro - x.f1Macro))} | ${tuned} | ${better} / ${worse} / ${equal} |`);
  }
  return lines.join('\n') + '\n';
}

/** The seeds' figures: F1-macro per setting with ± sd error bars, and the user id's gains in points. */
export function seedFigures(outs: string[], name?: string): { f1: string; gains: string } {
  return figuresOf(readSeeds(outs), outs.length, name);
}

function figuresOf(runs: SeedRuns, seeds: number, name = 'GoEmotions raters · demo Llama'): { f1: string; gains: string } {
  const bars: Bar[] = SETTINGS.flatMap((s) => {
    const r = runs.get(s)!;
    return r.length ? [{ key: s, mean: 100 * mean(r.map((x) => x.f1Macro)), sd: 100 * sd(r.map((x) => x.f1Macro)) }] : [];
  });
  // the classification heads also at per-label thresholds tuned on val (at 0.5 a small model's are often 0)
  for (const s of ['CLS', 'CLS-P'] as const) {
    const t = runs.get(s)!.flatMap((x) => (x.tunedMacro === null ? [] : [x.tunedMacro]));
    if (t.length) bars.push({ key: `${s}, tuned`, mean: 100 * mean(t), sd: 100 * sd(t) });
  }
  const f1 = groupedBarChart([{ name: `${name} (${seeds} seeds)`, bars }], {
    title: `F1-macro per setting, mean ± sd over ${seeds} seeds`,
    yLabel: 'F1-macro (%)',
    keys: [...SETTINGS, 'CLS, tuned', 'CLS-P, tuned'],
    notes: bars.some((b) => b.key.endsWith('tuned')) ? ['“tuned”: per-label thresholds chosen on the validation split; the others at the paper\'s 0.5.'] : [],
  });
  const gains: Bar[] = [],
    notes: string[] = [];
  for (const [a, b] of [['CLS', 'CLS-P'], ['LM', 'LM-P']] as const) {
    const ra = runs.get(a)!,
      rb = runs.get(b)!;
    if (!ra.length || ra.length !== rb.length) {
      if (ra.length || rb.length) notes.push(`${a} → ${b} not drawn: ${ra.length} and ${rb.length} seeds finished.`);
      continue;
    }
    const d = ra.map((x, i) => 100 * (rb[i].f1Macro - x.f1Macro));
    gains.push({ key: `${a} → ${b}`, mean: mean(d), sd: sd(d) });
    if (ra.every((x, i) => x.tunedMacro !== null && rb[i].tunedMacro !== null)) {
      const t = ra.map((x, i) => 100 * (rb[i].tunedMacro! - x.tunedMacro!));
      gains.push({ key: `${a} → ${b}, thresholds tuned on val`, mean: mean(t), sd: sd(t) });
    }
  }
  const g = gainBarChart(gains, {
    title: `Gain of the user id in the prompt, mean ± sd over ${seeds} seeds`,
    xLabel: 'F1-macro difference (percentage points)',
    notes,
  });
  return { f1, gains: g };
}
