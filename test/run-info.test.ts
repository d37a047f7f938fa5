// run.json: a trained run folder describes itself (issue 14, deliverable 1) — what it was trained
// from, on and with, read back with every field checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRunInfo, ConfigError } from '../lib/index.js';
import { runSetting } from '../lib/experiments/run.js';
import { ByteTokenizer } from '../lib/io/tokenizer.js';
import { sharedPath, skipMessage, prepareSynthetic, throwsWith } from './helpers.js';

const model = sharedPath('fixtures/hf/llama/model');

test(
  'a trained run writes run.json beside best/, and readRunInfo checks it field by field',
  { skip: model ? false : skipMessage('fixtures/hf/llama/model'), timeout: 120_000 },
  async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-runinfo-'));
    const prepared = await prepareSynthetic(root);
    const out = path.join(root, 'run');
    await runSetting({
      prepared,
      model: model!,
      setting: 'CLS-P',
      out,
      tokenizer: new ByteTokenizer(),
      quantize: 'nf4',
      maxLength: 512,
      lora: { r: 4, alpha: 8, dropout: 0 },
      train: { maxSteps: 1, batchSize: 4, gradAccum: 1, evalBatchSize: 8 },
      limit: { train: 8, val: 4, test: 4 },
    });
    const info = readRunInfo(out);
    assert.equal(info.base, path.resolve(model!));
    assert.equal(info.setting, 'CLS-P');
    assert.equal(info.task, 'sequence-classification');
    assert.equal(info.maxLength, 512);
    assert.equal(info.quantize, 'nf4');
    assert.deepEqual([info.lora?.r, info.lora?.alpha], [4, 8]);
    const manifest = JSON.parse(fs.readFileSync(path.join(prepared, 'manifest.json'), 'utf8'));
    assert.deepEqual(info.template.labels, manifest.labels);
    assert.equal(info.dataset, manifest.dataset);
    const file = path.join(out, 'run.json');
    const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const [k, v, re] of [
      ['setting', 'XX', /setting/],
      ['maxLength', -3, /maxLength/],
      ['template', { labels: [] }, /template/],
      ['device', 'tpu', /device/],
    ] as const) {
      fs.writeFileSync(file, JSON.stringify({ ...raw, [k]: v }));
      throwsWith(() => readRunInfo(out), ConfigError, re, new RegExp(file));
    }
    fs.rmSync(file);
    throwsWith(() => readRunInfo(out), ConfigError, /run\.json/);
  },
);
