// The demo's several-seed table: mean ± sd per setting, per-user means and how many annotators
// the user id helps, from run folders (metrics.json + predictions.jsonl).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedSummary, seedFigures } from '../lib/experiments/seeds.js';

test('seedSummary: mean ± sd over seeds and per-annotator gains of the user id', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-seeds-'));
  try {
    const run = (seed: string, setting: string, f1: number, rows: { user: string; predicted: string[]; truth: string[] }[]) => {
      const dir = path.join(root, seed, 'runs', setting);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'metrics.json'),
        JSON.stringify({ f1Macro: f1, f1Micro: f1, metrics: { perLabel: { a: {}, b: {} } } }),
      );
      fs.writeFileSync(path.join(dir, 'predictions.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    };
    const right = { predicted: ['a'], truth: ['a'] },
      wrong = { predicted: ['b'], truth: ['a'] };
    for (const [seed, f] of [
      ['s1', 0.1],
      ['s2', 0.3],
    ] as const) {
      run(seed, 'CLS', f, [
        { user: 'u1', ...wrong },
        { user: 'u2', ...right },
      ]);
      run(seed, 'CLS-P', f + 0.2, [
        { user: 'u1', ...right },
        { user: 'u2', ...right },
      ]);
    }
    const t = seedSummary([path.join(root, 's1'), path.join(root, 's2')]);
    assert.match(t, /\| CLS \| 20\.00 ± 14\.14 \|/);
    assert.match(t, /\| CLS-P \| 40\.00 ± 14\.14 \|/);
    assert.match(t, /\| CLS → CLS-P \| 20\.00 ± 0\.00 \| – \| 2 \/ 0 \/ 2 \|/); // u1 gains in both seeds, u2 equal
    assert.doesNotMatch(t, /\| LM /);
    // the figures: bars at the means with ± sd error bars, the gain in points (test/charts.test.ts checks the layout)
    const fig = seedFigures([path.join(root, 's1'), path.join(root, 's2')]);
    assert.match(fig.f1, />20\.0<\/text>/);
    assert.match(fig.f1, />40\.0<\/text>/);
    assert.match(fig.gains, />CLS → CLS-P<\/text>/);
    assert.match(fig.gains, />\+20\.0<\/text>/);
    assert.doesNotMatch(fig.gains, /LM → LM-P/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
