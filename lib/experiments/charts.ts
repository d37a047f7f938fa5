// SVG figures in the style of the paper's Fig. 2/3: absolute F1 per setting, grouped by dataset ×
// model (error bars when several seeds exist), and the gains of the personalized settings on an
// axis with ticks. The layout is computed from measured text widths (text-width.ts): the canvas
// grows to fit its labels, so none is clipped or drawn over another (test/charts.test.ts renders
// every label and checks). Our own ~250 lines instead of a charting library: vega + vega-lite are
// 79 packages, 25 MB, for two bar charts, and would still need a font to measure labels offline.
import { textWidth, wrapText, ASCENT, DESCENT } from './text-width.js';

export interface Bar {
  /** the series (a setting: 'CLS-P') or, in a gain chart, the row's label */
  key: string;
  mean: number;
  /** standard deviation over seeds: drawn as an error bar when > 0 */
  sd?: number;
}
export interface BarGroup {
  /** e.g. 'goemotions · Mistral-7B'; split at ' · ' onto lines when wider than its group */
  name: string;
  bars: Bar[];
}

const FONT = "'DejaVu Sans', Verdana, Arial, sans-serif";
const PAD = 12;
// Okabe–Ito: distinguishable with every common colour-vision deficiency, and in greyscale by lightness
const PALETTE = ['#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7', '#999999', '#882255', '#44AA99'];

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const n1 = (v: number) => v.toFixed(1);

class Svg {
  readonly parts: string[] = [];
  text(x: number, y: number, s: string, size: number, o: { anchor?: 'start' | 'middle' | 'end'; weight?: string; rotate?: boolean } = {}) {
    const rot = o.rotate ? ` transform="rotate(-90 ${n1(x)} ${n1(y)})"` : '';
    this.parts.push(
      `<text x="${n1(x)}" y="${n1(y)}" font-size="${size}"${o.anchor && o.anchor !== 'start' ? ` text-anchor="${o.anchor}"` : ''}${o.weight ? ` font-weight="${o.weight}"` : ''}${rot}>${esc(s)}</text>`,
    );
  }
  rect(x: number, y: number, w: number, h: number, fill: string) {
    this.parts.push(`<rect x="${n1(x)}" y="${n1(y)}" width="${n1(Math.max(0, w))}" height="${n1(Math.max(0, h))}" fill="${fill}"/>`);
  }
  line(x1: number, y1: number, x2: number, y2: number, stroke = '#333', width = 1) {
    this.parts.push(`<line x1="${n1(x1)}" y1="${n1(y1)}" x2="${n1(x2)}" y2="${n1(y2)}" stroke="${stroke}" stroke-width="${width}"/>`);
  }
  done(w: number, h: number, title: string): string {
    return (
      [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(w)}" height="${Math.ceil(h)}" viewBox="0 0 ${Math.ceil(w)} ${Math.ceil(h)}" font-family="${esc(FONT)}" font-size="12">`,
        `<title>${esc(title)}</title>`,
        `<rect width="100%" height="100%" fill="#fff"/>`,
        ...this.parts,
        '</svg>',
      ].join('\n') + '\n'
    );
  }
}

/** Round ticks covering [lo, hi]: steps of 1, 2, 2.5 or 5 × 10^k, the number of intervals closest to `count`. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count,
    mag = 10 ** Math.floor(Math.log10(raw));
  const intervals = (s: number) => Math.ceil(hi / s - 1e-9) - Math.floor(lo / s + 1e-9);
  const step = [1, 2, 2.5, 5, 10]
    .map((m) => m * mag)
    .reduce((best, s) => (Math.abs(intervals(s) - count) <= Math.abs(intervals(best) - count) ? s : best));
  const ticks: number[] = [];
  const first = Math.floor(lo / step + 1e-9),
    last = Math.ceil(hi / step - 1e-9);
  for (let i = first; i <= last; i++) ticks.push(i * step);
  return ticks.map((t) => +t.toPrecision(12));
}
const tickLabel = (t: number) => (Math.abs(t) < 1e-9 ? '0' : `${t < 0 ? '−' : ''}${+Math.abs(t).toPrecision(6)}`);

/** Notes under a figure (what was left out and why), wrapped to the canvas. */
function notesBlock(notes: string[], width: number) {
  const lines = notes.flatMap((n) => wrapText(n, 11, width));
  return { lines, height: lines.length ? 8 + lines.length * 15 : 0, width: Math.max(0, ...lines.map((l) => textWidth(l, 11))) };
}

/**
 * Grouped vertical bars: one group per dataset × model, one bar per key (setting) in `keys` order,
 * value labels on top when there is room, a y axis with ticks and grid lines, a legend.
 */
export function groupedBarChart(groups: BarGroup[], o: { title: string; yLabel: string; keys: string[]; notes?: string[] }): string {
  const svg = new Svg();
  const keys = o.keys.filter((k) => groups.some((g) => g.bars.some((b) => b.key === k)));
  const color = (k: string) => PALETTE[o.keys.indexOf(k) % PALETTE.length];
  const values = groups.flatMap((g) => g.bars.map((b) => b.mean + (b.sd ?? 0)));
  const ticks = niceTicks(0, Math.max(1e-9, ...values) * 1.05 || 1, 5);
  const yMax = ticks[ticks.length - 1];
  const valueLabels = groups.length * keys.length <= 24;
  // two decimals while every value is below 10 (a small model's F1 of 0.75 would read 0.7)
  const digits = Math.max(0, ...values) < 10 ? 2 : 1;
  const label = (v: number) => v.toFixed(digits);
  const labelW = Math.max(0, ...groups.flatMap((g) => g.bars.map((b) => textWidth(label(b.mean), 10))));
  const barW = Math.max(16, valueLabels ? labelW + 4 : 0);
  // group labels: whole when they fit, else one line per ' · ' part; the group widens to the widest line
  let groupW = Math.max(keys.length, 1) * barW + 16;
  // (all groups alike: one split name beside whole ones would read as a different kind of group)
  const split = groups.some((g) => textWidth(g.name, 12) + 8 > groupW);
  const nameLines = groups.map((g) => (split ? g.name.split(' · ') : [g.name]));
  groupW = Math.max(groupW, ...nameLines.flat().map((l) => textWidth(l, 12) + 12));
  const tickW = Math.max(...ticks.map((t) => textWidth(tickLabel(t), 11)));
  const left = PAD + 12 * (ASCENT + DESCENT) + 10 + tickW + 8;
  const plotW = Math.max(groups.length, 1) * groupW;
  // legend rows, wrapped to the plot's width
  const items = keys.map((k) => ({ k, w: 12 + 4 + textWidth(k, 12) + 14 }));
  const legendRows: { k: string; w: number }[][] = [[]];
  let rowW = 0;
  const legendMax = Math.max(plotW, textWidth(o.title, 14, true));
  for (const it of items) {
    if (rowW + it.w > legendMax && legendRows[legendRows.length - 1].length) {
      legendRows.push([]);
      rowW = 0;
    }
    legendRows[legendRows.length - 1].push(it);
    rowW += it.w;
  }
  const titleY = PAD + 14 * ASCENT;
  const legendTop = titleY + 14 * DESCENT + 10;
  const plotTop = legendTop + legendRows.length * 18 + 18; // 18 px above the axis' top for the value labels
  const plotH = 240;
  const axisY = plotTop + plotH;
  const maxLines = Math.max(1, ...nameLines.map((l) => l.length));
  const namesBottom = axisY + 8 + maxLines * 15;
  let W = left + plotW + PAD + 4;
  const notes = notesBlock(o.notes ?? [], W - 2 * PAD);
  W = Math.max(W, PAD * 2 + textWidth(o.title, 14, true), PAD * 2 + notes.width, left + Math.max(...legendRows.map((r) => r.reduce((s, i) => s + i.w, 0))) + PAD);
  const H = namesBottom + 6 + notes.height + PAD;
  const y = (v: number) => axisY - (Math.max(0, v) / yMax) * plotH;

  svg.text(W / 2, titleY, o.title, 14, { anchor: 'middle', weight: 'bold' });
  let ly = legendTop + 12;
  for (const row of legendRows) {
    let lx = left;
    for (const it of row) {
      svg.rect(lx, ly - 10, 12, 12, color(it.k));
      svg.text(lx + 16, ly, it.k, 12);
      lx += it.w;
    }
    ly += 18;
  }
  // y axis: grid, ticks, labels, title
  for (const t of ticks) {
    svg.line(left, y(t), left + plotW, y(t), t === 0 ? '#333' : '#e3e3e3');
    svg.line(left - 5, y(t), left, y(t));
    svg.text(left - 8, y(t) + 11 * 0.35, tickLabel(t), 11, { anchor: 'end' });
  }
  svg.line(left, plotTop, left, axisY);
  svg.text(PAD + 12 * ASCENT, plotTop + plotH / 2, o.yLabel, 12, { anchor: 'middle', rotate: true });
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + (groupW - keys.length * barW) / 2;
    keys.forEach((k, ki) => {
      const b = g.bars.find((x) => x.key === k);
      if (!b) return;
      const x = gx + ki * barW + 1;
      svg.rect(x, y(b.mean), barW - 2, axisY - y(b.mean), color(k));
      let top = y(b.mean);
      if (b.sd && b.sd > 0) {
        const cx = x + (barW - 2) / 2,
          hi = y(b.mean + b.sd),
          lo = y(b.mean - b.sd);
        svg.line(cx, hi, cx, lo, '#222');
        svg.line(cx - 4, hi, cx + 4, hi, '#222');
        svg.line(cx - 4, lo, cx + 4, lo, '#222');
        top = hi;
      }
      if (valueLabels) svg.text(x + (barW - 2) / 2, top - 3 - 10 * DESCENT, label(b.mean), 10, { anchor: 'middle' });
    });
    nameLines[gi].forEach((l, li) => svg.text(left + gi * groupW + groupW / 2, axisY + 8 + 12 * ASCENT + li * 15, l, 12, { anchor: 'middle' }));
  });
  notes.lines.forEach((l, i) => svg.text(PAD, namesBottom + 6 + 8 + 11 * ASCENT + i * 15, l, 11));
  return svg.done(W, H, o.title);
}

/**
 * Horizontal bars of gains around a zero line, an x axis with ticks and a title, the value at each
 * bar's end (beyond its error bar), and notes for the pairs that could not be drawn.
 */
export function gainBarChart(bars: Bar[], o: { title: string; xLabel: string; unit?: string; notes?: string[] }): string {
  const svg = new Svg();
  const unit = o.unit ?? '';
  const lo = Math.min(0, ...bars.map((b) => b.mean - (b.sd ?? 0))),
    hi = Math.max(0, ...bars.map((b) => b.mean + (b.sd ?? 0)));
  // two decimals on a scale below 10 (a gain of 0.08 points would read 0.1)
  const digits = Math.max(-lo, hi) < 10 ? 2 : 1;
  const fmt = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}${unit}`;
  let ticks = niceTicks(lo, hi === lo ? lo + 1 : hi, 6);
  const tickW = Math.max(...ticks.map((t) => textWidth(tickLabel(t), 11)));
  const labelW = Math.max(0, ...bars.map((b) => textWidth(b.key, 12)));
  const valueW = Math.max(0, ...bars.map((b) => textWidth(fmt(b.mean), 11)));
  const plotW = Math.max(320, ticks.length * (tickW + 12));
  // fewer ticks when their labels would touch
  while (ticks.length > 3 && plotW / (ticks.length - 1) < tickW + 10) ticks = ticks.filter((_, i) => i % 2 === 0);
  const t0 = ticks[0],
    t1 = ticks[ticks.length - 1];
  const negRoom = lo < 0 ? valueW + 8 : 0; // value labels of negative bars sit left of them
  const left = PAD + labelW + 10 + negRoom;
  const x = (v: number) => left + ((v - t0) / (t1 - t0)) * plotW;
  const titleY = PAD + 14 * ASCENT;
  const top = titleY + 14 * DESCENT + 14;
  const rowH = 24,
    barH = 16;
  const plotH = Math.max(1, bars.length) * rowH;
  const axisY = top + plotH + 4;
  let W = left + plotW + valueW + 8 + PAD;
  const notes = notesBlock(o.notes ?? [], W - 2 * PAD);
  W = Math.max(W, PAD * 2 + textWidth(o.title, 14, true), PAD * 2 + notes.width);
  const xTitleY = axisY + 8 + 11 + 8 + 12 * ASCENT;
  const H = xTitleY + 12 * DESCENT + notes.height + PAD;

  svg.text(W / 2, titleY, o.title, 14, { anchor: 'middle', weight: 'bold' });
  for (const t of ticks) {
    svg.line(x(t), top, x(t), axisY, '#e3e3e3');
    svg.line(x(t), axisY, x(t), axisY + 5);
    svg.text(x(t), axisY + 8 + 11 * ASCENT, tickLabel(t), 11, { anchor: 'middle' });
  }
  svg.line(left, axisY, left + plotW, axisY);
  svg.text(left + plotW / 2, xTitleY, o.xLabel, 12, { anchor: 'middle' });
  bars.forEach((b, i) => {
    const cy = top + i * rowH + rowH / 2;
    svg.text(PAD + labelW, cy + 12 * 0.35, b.key, 12, { anchor: 'end' });
    const x0 = x(0),
      x1 = x(b.mean);
    svg.rect(Math.min(x0, x1), cy - barH / 2, Math.abs(x1 - x0), barH, b.mean >= 0 ? '#009E73' : '#D55E00');
    let end = x1;
    if (b.sd && b.sd > 0) {
      const a = x(b.mean - b.sd),
        c = x(b.mean + b.sd);
      svg.line(a, cy, c, cy, '#222');
      svg.line(a, cy - 4, a, cy + 4, '#222');
      svg.line(c, cy - 4, c, cy + 4, '#222');
      end = b.mean >= 0 ? c : a;
    }
    const pos = b.mean >= 0;
    svg.text(pos ? Math.max(end, x0) + 4 : Math.min(end, x0) - 4, cy + 11 * 0.35, fmt(b.mean), 11, { anchor: pos ? 'start' : 'end' });
  });
  svg.line(x(0), top - 4, x(0), axisY, '#333', 1.5);
  if (!bars.length) svg.text(left + plotW / 2, top + rowH / 2 + 4, 'no pair of settings to compare', 12, { anchor: 'middle' });
  notes.lines.forEach((l, i) => svg.text(PAD, xTitleY + 12 * DESCENT + 8 + 11 * ASCENT + i * 15, l, 11));
  return svg.done(W, H, o.title);
}
