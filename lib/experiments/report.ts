// Results → the paper's tables (markdown, CSV, JSON) and SVG bar charts of the gains.
import fs from 'node:fs';
import path from 'node:path';
import { gain } from '../eval/metrics.js';
import { io, writeFileAtomic } from '../io/files.js';

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

const xmlEscape = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/** A bar chart of the personalization gains (like the paper's Fig. 2/3): one bar per dataset × model × pair. */
export function gainsSvg(results: RunResult[], pairs: [string, string][] = [['LM-P', 'LM'], ['CLS-P', 'CLS']]): string {
  const bars: { label: string; value: number }[] = [];
  for (const k of [...new Set(results.map((r) => `${r.dataset}\u0000${r.model}`))]) {
    const [ds, m] = k.split('\u0000');
    for (const [p, b] of pairs) {
      const pv = lookup(results, ds, m, p)?.f1Macro, bv = lookup(results, ds, m, b)?.f1Macro;
      if (pv !== undefined && bv !== undefined && bv > 0) bars.push({ label: `${ds} · ${m} · ${p}`, value: gain(pv, bv) });
    }
  }
  const W = 640, barH = 26, top = 40, left = 260, H = top + Math.max(1, bars.length) * (barH + 8) + 30;
  const maxAbs = Math.max(1, ...bars.map((b) => Math.abs(b.value)));
  const zero = left + (W - left - 20) / 2, scale = (W - left - 20) / 2 / maxAbs;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Gain of the personalized setting (F1-macro, %)</text>`,
    `<line x1="${zero}" y1="${top - 6}" x2="${zero}" y2="${H - 24}" stroke="#333"/>`];
  bars.forEach((b, i) => {
    const y = top + i * (barH + 8), w = Math.abs(b.value) * scale, x = b.value >= 0 ? zero : zero - w;
    parts.push(`<text x="${left - 8}" y="${y + barH / 2 + 4}" text-anchor="end">${xmlEscape(b.label)}</text>`,
      `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${b.value >= 0 ? '#2a7' : '#c44'}"/>`,
      `<text x="${(b.value >= 0 ? x + w + 4 : x - 4).toFixed(1)}" y="${y + barH / 2 + 4}" text-anchor="${b.value >= 0 ? 'start' : 'end'}">${fmtGain(b.value)}</text>`);
  });
  if (!bars.length) parts.push(`<text x="${W / 2}" y="${top + 20}" text-anchor="middle">no setting pairs to compare</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function writeReport(dir: string, results: RunResult[]): void {
  io('create', dir, () => fs.mkdirSync(dir, { recursive: true }));
  writeFileAtomic(path.join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileAtomic(path.join(dir, 'results.csv'), resultsCsv(results));
  writeFileAtomic(path.join(dir, 'tables.md'), paperTables(results));
  writeFileAtomic(path.join(dir, 'gains.svg'), gainsSvg(results));
}
