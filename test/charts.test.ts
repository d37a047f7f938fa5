// The figures render cleanly: each chart is rasterised with resvg and DejaVu Sans (the font the
// layout measures), every label is rendered alone to find the pixels it really covers, and no label
// may leave the canvas, touch another label or sit on a bar. The whole figure is written as PNG too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Resvg } from '@resvg/resvg-js';
import { groupedBarChart, gainBarChart, niceTicks } from '../lib/experiments/charts.js';
import { f1Svg, gainsSvg, type RunResult } from '../lib/experiments/report.js';
import { textWidth } from '../lib/experiments/text-width.js';

const require = createRequire(import.meta.url);
const fontDir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
const fontFiles = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => path.join(fontDir, f));
const render = (svg: string) =>
  new Resvg(svg, { font: { fontFiles, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render();

type Box = { x0: number; y0: number; x1: number; y1: number };
/** The box of the pixels that differ from white. */
function inkBox(img: { width: number; height: number; pixels: Buffer }): Box | null {
  let b: Box | null = null;
  const { width: w, height: h, pixels: p } = img;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = 4 * (y * w + x);
      if (p[i] < 250 || p[i + 1] < 250 || p[i + 2] < 250) {
        if (!b) b = { x0: x, y0: y, x1: x, y1: y };
        else b = { x0: Math.min(b.x0, x), y0: Math.min(b.y0, y), x1: Math.max(b.x1, x), y1: Math.max(b.y1, y) };
      }
    }
  return b;
}
const overlap = (a: Box, b: Box) => a.x0 <= b.x1 && b.x0 <= a.x1 && a.y0 <= b.y1 && b.y0 <= a.y1;

/** Every <text> and bar <rect> of `svg`, each rendered alone on the same canvas, with its pixel box. */
function geometry(svg: string) {
  const open = svg.match(/^<svg [^>]*>/)![0];
  const [, w, h] = open.match(/width="(\d+)" height="(\d+)"/)!.map(Number);
  const alone = (el: string) => inkBox(render(`${open}\n${el}\n</svg>`));
  const texts = [...svg.matchAll(/<text [^>]*>([^<]*)<\/text>/g)].map((m) => ({ text: m[1], box: alone(m[0]) }));
  const bars = [...svg.matchAll(/<rect x="[^"]*"[^>]*\/>/g)].map((m) => ({ el: m[0], box: alone(m[0]) }));
  return { w, h, texts, bars };
}

function assertClean(name: string, svg: string, out: string) {
  fs.writeFileSync(path.join(out, `${name}.svg`), svg);
  fs.writeFileSync(path.join(out, `${name}.png`), render(svg).asPng());
  const g = geometry(svg);
  assert.ok(g.texts.length > 5, `${name}: labels found`);
  for (const t of g.texts) {
    assert.ok(t.box, `${name}: '${t.text}' draws something`);
    const b = t.box!;
    assert.ok(
      b.x0 >= 2 && b.y0 >= 2 && b.x1 <= g.w - 3 && b.y1 <= g.h - 3,
      `${name}: '${t.text}' inside the canvas (${JSON.stringify(b)} of ${g.w}×${g.h})`,
    );
  }
  for (let i = 0; i < g.texts.length; i++)
    for (let j = i + 1; j < g.texts.length; j++)
      assert.ok(!overlap(g.texts[i].box!, g.texts[j].box!), `${name}: '${g.texts[i].text}' and '${g.texts[j].text}' overlap`);
  for (const t of g.texts)
    for (const r of g.bars) if (r.box) assert.ok(!overlap(t.box!, r.box), `${name}: '${t.text}' lies on a bar ${r.el}`);
  return g;
}

const SETTINGS7 = ['Q-0S', 'Q-1S', 'Q-2S', 'LM', 'LM-P', 'CLS', 'CLS-P'];
const result = (dataset: string, model: string, setting: string, f1Macro: number): RunResult => ({
  dataset,
  model,
  setting,
  f1Macro,
  f1Micro: f1Macro,
  subsetAccuracy: 0,
  rows: 10,
});

test('the F1 and gains figures render with every label inside the canvas, apart from the others and off the bars', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-charts-'));
  // the paper's grid: two datasets × three models (long names), all seven settings
  const grid: RunResult[] = [];
  let k = 0;
  for (const ds of ['goemotions', 'unhealthy-conversations'])
    for (const m of ['Mistral-7B-v0.1', 'phi-2', 'stablelm-3b-4e1t'])
      for (const s of SETTINGS7) grid.push(result(ds, m, s, ((k++ * 37) % 100) / 100));
  const f1 = assertClean('grid-f1', f1Svg(grid), out);
  assert.equal(f1.bars.filter((b) => /fill="#(?!fff)/.test(b.el)).length, 6 * 7 + 7, 'a bar per run and a legend swatch per setting');
  const gains = assertClean('grid-gains', gainsSvg(grid), out);
  assert.equal(gains.texts.filter((t) => / vs /.test(t.text)).length, 12, 'both pairs for each of the 6 groups');
  // the demo's case: one group, a base at 0 (named in a note, not dropped), negative and positive gains
  const demo = [result('goemotions', 'demo-llama', 'LM', 0.013), result('goemotions', 'demo-llama', 'LM-P', 0.0152)];
  demo.push(result('goemotions', 'demo-llama', 'CLS', 0), result('goemotions', 'demo-llama', 'CLS-P', 0.0347));
  const g = assertClean('demo-gains', gainsSvg(demo), out);
  assert.ok(g.texts.some((t) => /CLS-P vs CLS not drawn — CLS has F1-macro 0/.test(t.text)));
  assertClean('demo-f1', f1Svg(demo), out);
  // mixed signs with error bars (several seeds), and tick labels on a round scale
  const mixed = gainBarChart(
    [
      { key: 'CLS → CLS-P', mean: 0.06, sd: 0.52 },
      { key: 'LM → LM-P', mean: 0.22, sd: 0.3 },
      { key: 'LM → LM-P, thresholds tuned on val', mean: -1.4, sd: 0.9 },
    ],
    {
      title: 'Gain of the user id, mean ± sd over 3 seeds',
      xLabel: 'F1-macro difference (percentage points)',
      notes: ['a note '.repeat(30)],
    },
  );
  const m = assertClean('seeds-gains', mixed, out);
  assert.ok(m.texts.some((t) => t.text === '−1.40'));
  const withSd = groupedBarChart(
    [
      {
        name: 'GoEmotions raters · demo Llama (3 seeds)',
        bars: [...SETTINGS7, 'CLS, tuned', 'CLS-P, tuned'].map((s, i) => ({ key: s, mean: i * 0.6, sd: i ? 0.4 : 0 })),
      },
    ],
    {
      title: 'F1-macro per setting, mean ± sd over 3 seeds',
      yLabel: 'F1-macro (%)',
      keys: [...SETTINGS7, 'CLS, tuned', 'CLS-P, tuned'],
      notes: ["“tuned”: per-label thresholds chosen on the validation split; the others at the paper's 0.5."],
    },
  );
  assertClean('seeds-f1', withSd, out);
  assert.deepEqual(niceTicks(0, 3.7), [0, 1, 2, 3, 4]);
  assert.deepEqual(niceTicks(0, 104), [0, 25, 50, 75, 100, 125]);
  assert.deepEqual(niceTicks(-2.3, 0.52, 6), [-2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1]);
  if (!process.env.PLF_KEEP_CHARTS) fs.rmSync(out, { recursive: true, force: true });
  else console.log('charts in', out);
});

test('the layout measures text as DejaVu Sans renders it (within 3% on the labels the charts use)', () => {
  for (const s of ['goemotions · Mistral-7B-v0.1: CLS-P vs CLS', 'F1-macro (%)', 'relative gain in F1-macro (%)', '−1.4', 'Q-2S']) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="10" y="25" font-family="DejaVu Sans" font-size="12">${s}</text></svg>`;
    const b = inkBox(render(svg))!;
    const ink = b.x1 - b.x0 + 1,
      est = textWidth(s, 12);
    // ink is the advance less the side bearings of the first and last glyph (≤ 2 px at 12 px)
    assert.ok(ink <= est + 1 && ink >= est * 0.97 - 3, `${s}: ink ${ink} px, layout ${est.toFixed(1)} px`);
  }
});
