// Results → the paper's tables (markdown, CSV, JSON) and its figures (F1 per setting, gains) as SVG.
import fs from 'node:fs';
import path from 'node:path';
import { gain } from '../eval/metrics.js';
import { io, writeFileAtomic } from '../io/files.js';
import { SETTINGS } from '../prompts/templates.js';
import { groupedBarChart, gainBarChart, type Bar, type BarGroup } from './charts.js';

export interface RunResult {
  dataset: string;
  model: string;
  setting: string;
  f1Macro: number;
  f1Micro: number;
  subsetAccuracy: number;
  perUserF1Mean?: number;
  rows: number;
  unknownWords?: number;
  seconds?: number;
}

const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : (v * 100).toFixed(2));
const fmtGain = (v: number) => (Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`);

function lookup(results: RunResult[], dataset: string, model: string, setting: string): RunResult | undefined {
  return results.find((r) => r.dataset === dataset && r.model === model && r.setting === setting);
}

function table(results: RunResult[], title: string, settings: string[], gains: [string, string][] = []): string {
  const pairs = [...new Set(results.map((r) => `${r.dataset}\u0000${r.model}`))].map((k) => k.split('\u0000'));
  const head = ['dataset', 'model', ...settings, ...gains.map(([p, b]) => `gain ${p} vs ${b}`)];
  const lines = [`### ${title}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const [ds, m] of pairs) {
    if (!settings.some((s) => lookup(results, ds, m, s))) continue;
    const cells = settings.map((s) => fmt(lookup(results, ds, m, s)?.f1Macro));
    const g = gains.map(([p, b]) => {
      const pv = lookup(results, ds, m, p)?.f1Macro, bv = lookup(results, ds, m, b)?.f1Macro;
      return pv === undefined || bv === undefined ? '–' : fmtGain(gain(pv, bv));
    });
    lines.push(`| ${[ds, m, ...cells, ...g].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Tables I (LM, LM-P, CLS, CLS-P), II (Q-0S, Q-1S, Q-2S, LM-P) and III (CLS, CLS-P, gain), F1-macro × 100. */
export function paperTables(results: RunResult[]): string {
  return [
    table(results, 'Table I — fine-tuning without and with the user id (F1-macro)', ['LM', 'LM-P', 'CLS', 'CLS-P'], [['LM-P', 'LM'], ['CLS-P', 'CLS']]),
    table(results, 'Table II — prompting vs personalized fine-tuning (F1-macro)', ['Q-0S', 'Q-1S', 'Q-2S', 'LM-P']),
    table(results, 'Table III — classification heads (F1-macro)', ['CLS', 'CLS-P'], [['CLS-P', 'CLS']]),
  ].join('\n\n') + '\n';
}

export function resultsCsv(results: RunResult[]): string {
  const cols: (keyof RunResult)[] = ['dataset', 'model', 'setting', 'f1Macro', 'f1Micro', 'subsetAccuracy', 'perUserF1Mean', 'rows', 'unknownWords', 'seconds'];
  const esc = (v: unknown) => { const s = v === undefined ? '' : String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
  return [cols.join(','), ...results.map((r) => cols.map((c) => esc(r[c])).join(','))].join('\n') + '\n';
}

/** Fig. 2/3 (left): F1-macro of every setting, grouped by dataset × model. */
export function f1Svg(results: RunResult[]): string {
  const groups: BarGroup[] = [...new Set(results.map((r) => `${r.dataset} · ${r.model}`))].map((name) => ({
    name,
    bars: results.filter((r) => `${r.dataset} · ${r.model}` === name).map((r) => ({ key: r.setting, mean: 100 * r.f1Macro })),
  }));
  return groupedBarChart(groups, { title: 'F1-macro per setting (test split)', yLabel: 'F1-macro (%)', keys: [...SETTINGS] });
}

/**
 * Fig. 2/3 (right): the relative gain of each personalized setting over its base, as in Tables I
 * and III. A pair whose base scored 0 has no relative gain: it is named in a note, not dropped.
 */
export function gainsSvg(results: RunResult[], pairs: [string, string][] = [['LM-P', 'LM'], ['CLS-P', 'CLS']]): string {
  const bars: Bar[] = [],
    notes: string[] = [];
  for (const k of [...new Set(results.map((r) => `${r.dataset}\u0000${r.model}`))]) {
    const [ds, m] = k.split('\u0000');
    for (const [p, b] of pairs) {
      const pv = lookup(results, ds, m, p)?.f1Macro,
        bv = lookup(results, ds, m, b)?.f1Macro;
      if (pv === undefined || bv === undefined) continue;
      if (bv > 0) bars.push({ key: `${ds} · ${m}: ${p} vs ${b}`, mean: gain(pv, bv) });
      else notes.push(`${ds} · ${m}: ${p} vs ${b} not drawn — ${b} has F1-macro 0, so its relative gain is undefined (${p}: ${fmt(pv)}).`);
    }
  }
  return gainBarChart(bars, { title: 'Gain of the personalized settings', xLabel: 'relative gain in F1-macro (%)', unit: '%', notes });
}

export function writeReport(dir: string, results: RunResult[]): void {
  io('create', dir, () => fs.mkdirSync(dir, { recursive: true }));
  writeFileAtomic(path.join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileAtomic(path.join(dir, 'results.csv'), resultsCsv(results));
  writeFileAtomic(path.join(dir, 'tables.md'), paperTables(results));
  writeFileAtomic(path.join(dir, 'f1.svg'), f1Svg(results));
  writeFileAtomic(path.join(dir, 'gains.svg'), gainsSvg(results));
}
