#!/usr/bin/env node
// After a device call: files its JSON under bench/results/gpu/ (named by date, card and commit) and
// regenerates the README's GPU table from the newest file there.
//   node scripts/gpu-results.mjs <bench-gpu.json>   file it, then regenerate
//   node scripts/gpu-results.mjs                    regenerate only
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = path.join(root, 'bench', 'results', 'gpu');
const BEGIN = '<!-- gpu-table:begin (scripts/gpu-results.mjs writes this block from bench/results/gpu) -->';
const END = '<!-- gpu-table:end -->';

const src = process.argv[2];
if (src) {
  const j = JSON.parse(fs.readFileSync(src, 'utf8'));
  if (!Array.isArray(j.rows)) throw new Error(`${src}: no rows`);
  const slug = (s) =>
    String(s ?? 'unknown')
      .replace(/[^A-Za-z0-9.]+/g, '-')
      .replace(/^-|-$/g, '');
  const name = `${slug(String(j.date).slice(0, 10))}_${slug(j.card)}_${slug(j.commit)}_${slug(j.call)}.json`;
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(src, path.join(dir, name));
  console.log(`filed ${path.relative(root, path.join(dir, name))}`);
}

const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
const newest = files
  .map((f) => ({ f, j: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }))
  .sort((a, b) => String(a.j.date).localeCompare(String(b.j.date)))
  .pop();
const cell = (s) => String(s ?? '–').replace(/\|/g, '\\|');
const ratio = (r) => (Number.isFinite(r) ? (r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)) : '–');
let block;
if (!newest) {
  block = 'No device call has been filed yet (`bench/results/gpu/` is empty): the table below is older and was typed by hand.';
} else {
  const { j, f } = newest;
  const t = j.testGpu ? `; test:gpu ${j.testGpu.pass} passed, ${j.testGpu.fail} failed` : '';
  block = [
    `Measured on ${cell(j.card)} (driver ${cell(j.driver)}), ${String(j.date).slice(0, 10)}, commit ${cell(j.commit)}, the ${cell(j.call)} call` +
      `${t} — \`bench/results/gpu/${f}\`:`,
    '',
    '| case | ours | peer (same run) | ratio | goal | matmul path |',
    '|---|---|---|---|---|---|',
    ...j.rows.map(
      (r) =>
        `| ${cell(r.case)} | ${cell(r.ours)} | ${cell(r.peer)} | ${ratio(r.ratio)} | ${cell(r.goal)}${r.met === null || r.met === undefined ? '' : r.met ? ' — met' : ' — not met'} | ${cell(r.matmul)} |`,
    ),
  ].join('\n');
}
const readme = path.join(root, 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const a = text.indexOf(BEGIN),
  b = text.indexOf(END);
if (a < 0 || b < a) throw new Error(`README.md has no ${BEGIN} … ${END} block`);
fs.writeFileSync(readme, text.slice(0, a + BEGIN.length) + '\n' + block + '\n' + text.slice(b));
console.log(newest ? `README GPU table from ${newest.f}` : 'README: no filed device call yet');
