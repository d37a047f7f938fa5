// The real demo, shortened (issue 16): pretraining on the real texts (the test split's left out),
// the GoEmotions rater sample prepared by the paper's procedure, and three settings with QLoRA
// (NF4 base, LoRA r=8 on every layer linear) — the tables and chart written, the base reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runRealDemo } from '../lib/experiments/demo-real.js';
import { readRunInfo } from '../lib/experiments/run-info.js';
import { sharedPath, skipMessage } from './helpers.js';

const data = sharedPath('data/goemotions/goemotions_1.prefix-sample.csv') ? sharedPath('data') : undefined;

test(
  'the real demo, shortened: pretrain → prepare → Q-0S, CLS-P, LM-P with QLoRA',
  { skip: data ? false : skipMessage('data/goemotions'), timeout: 240_000 },
  async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-demo-real-'));
    try {
      const logs: string[] = [];
      const o = {
        out,
        dataDir: data!,
        pretrainMinutes: 0.05,
        settings: ['Q-0S', 'CLS-P', 'LM-P'] as const,
        limit: { train: 16, val: 8, test: 8 },
        maxSteps: 2,
        log: (m: string) => logs.push(m),
      };
      const r = await runRealDemo({ ...o, settings: [...o.settings] });
      assert.deepEqual(
        r.results.map((x) => x.setting),
        ['Q-0S', 'CLS-P', 'LM-P'],
      );
      for (const f of ['results.json', 'results.csv', 'tables.md', 'gains.svg', 'base/pretrain.json', 'base/model.safetensors'])
        assert.ok(fs.existsSync(path.join(out, f)), f);
      const said = logs.join('\n');
      assert.match(said, /Data: REAL/);
      assert.match(said, /the [1-9]\d* test texts left out/);
      const info = readRunInfo(path.join(out, 'runs', 'CLS-P'));
      assert.equal(info.quantize, 'nf4');
      assert.equal(info.lora?.r, 8);
      assert.equal(info.template.labels.length, 28);
      const m = JSON.parse(fs.readFileSync(path.join(out, 'runs', 'CLS-P', 'metrics.json'), 'utf8'));
      assert.equal(Object.keys(m.tunedThreshold.thresholds).length, 28, 'per-label thresholds tuned on val');
      // a second demo reuses the base (same recipe) and the finished runs
      logs.length = 0;
      await runRealDemo({ ...o, settings: ['Q-0S'] });
      assert.match(logs.join('\n'), /pretrained earlier with the same recipe/);
      assert.match(logs.join('\n'), /Q-0S .*finished earlier/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  },
);
