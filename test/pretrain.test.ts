// plf-native pretrain (issue 16, deliverable 1): a small Llama learns from plain texts (held-out
// loss far below a uniform guess), the folder loads as an HF model, an interrupted run resumed
// from its checkpoint ends bit-identical to an uninterrupted one, the text readers, and the
// option errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadModel, ConfigError } from '../lib/index.js';
import { pretrain, type PretrainOptions } from '../lib/train/pretrain.js';
import { readTexts } from '../lib/data/texts.js';
import { syntheticRows } from '../lib/experiments/demo.js';

const texts = [
  ...new Set(
    syntheticRows(5, 120, 4)
      .slice(1)
      .map((r) => r[2]),
  ),
];
const opts = (out: string, o: Partial<PretrainOptions> = {}): PretrainOptions => ({
  texts,
  out,
  shape: { hidden: 32, layers: 1, heads: 2, intermediate: 64 },
  tokens: 12 * 8 * 32,
  seqLen: 32,
  batchSize: 8,
  lr: 1e-2,
  saveEvery: 4,
  ...o,
});

test('pretrain learns the texts and writes an HF folder that loads; a resumed run ends bit-identical', { timeout: 120_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-pretrain-'));
  try {
    const a = path.join(root, 'a');
    const r = await pretrain(opts(a));
    assert.equal(r.steps, 12);
    assert.ok(
      r.heldOutLoss < Math.log(259) - 1.5,
      `held-out loss ${r.heldOutLoss} well below a uniform byte guess (${Math.log(259).toFixed(2)})`,
    );
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'pretrain.json'])
      assert.ok(fs.existsSync(path.join(a, f)), f);
    assert.ok(!fs.existsSync(path.join(a, 'init')));
    const cfg = JSON.parse(fs.readFileSync(path.join(a, 'config.json'), 'utf8'));
    assert.equal(cfg.vocab_size, 259);
    assert.equal(cfg.model_type, 'llama');
    using m = loadModel(a);
    assert.equal(m.task, 'causal-lm');
    // interrupted after step 6 (its last checkpoint: step 4), then resumed
    const b = path.join(root, 'b');
    await assert.rejects(
      pretrain(
        opts(b, {
          hooks: {
            onStep: (s) => {
              if (s.step === 6) throw new Error('killed');
            },
          },
        }),
      ),
      /killed/,
    );
    const info: string[] = [];
    await pretrain(opts(b, { resume: true, hooks: { onInfo: (m) => info.push(m) } }));
    assert.match(info.join('\n'), /resuming from .* at step 4/);
    assert.ok(
      fs.readFileSync(path.join(a, 'model.safetensors')).equals(fs.readFileSync(path.join(b, 'model.safetensors'))),
      'bit-identical weights',
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('pretrain checks its options; texts from .txt, .jsonl and .csv', async () => {
  await assert.rejects(pretrain({ texts, out: path.join(os.tmpdir(), 'x'), minutes: 1, tokens: 5 }), ConfigError);
  await assert.rejects(pretrain({ texts, out: path.join(os.tmpdir(), 'x') }), /one budget/);
  await assert.rejects(pretrain({ texts, out: path.join(os.tmpdir(), 'x'), tokens: 10, seqLen: 0 }), /seqLen must be a positive integer/);
  await assert.rejects(pretrain({ texts: ['a'], out: path.join(os.tmpdir(), 'x'), tokens: 10 }), /at least 2/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-texts-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.txt'), 'one\r\n\ntwo\nthree');
    fs.writeFileSync(path.join(dir, 'b.jsonl'), '{"body": "four"}\n{"body": "five"}\n');
    fs.writeFileSync(path.join(dir, 'c.csv'), 'id,body\n1,"six, with a comma"\n2,seven\n');
    const r = await readTexts([path.join(dir, 'a.txt'), path.join(dir, 'b.jsonl'), path.join(dir, 'c.csv')], { textColumn: 'body' });
    assert.deepEqual(
      r.map((x) => x.texts),
      [
        ['one', 'two', 'three'],
        ['four', 'five'],
        ['six, with a comma', 'seven'],
      ],
    );
    await assert.rejects(readTexts([path.join(dir, 'c.csv')]), /missing column\(s\) text/);
    await assert.rejects(readTexts([path.join(dir, 'b.jsonl')]), /b\.jsonl:1: 'text' must be a string/);
    // the CLI end to end
    const out = execFileSync(
      process.execPath,
      [
        path.resolve('dist', 'bin', 'plf-native.js'),
        'pretrain',
        '--text',
        path.join(dir, 'a.txt'),
        '--out',
        path.join(dir, 'm'),
        '--tokens',
        '64',
        '--seq-len',
        '4',
        '--batch',
        '2',
        '--shape',
        '{"hidden":16,"layers":1,"heads":2,"intermediate":32}',
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(JSON.parse(out).steps, 8);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
