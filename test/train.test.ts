// Training and evaluation end to end on the fixture Llama (byte tokenizer): every fine-tuning
// setting's loss falls; a run killed with SIGKILL and resumed ends exactly like an uninterrupted one;
// an experiment grid writes its tables and SVG; a short demo runs; quantize output reloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync, execFileSync } from 'node:child_process';
import { Checkpoint, loadModel, info, DeviceError } from '../lib/index.js';
import { isNF4 } from '../lib/ops/index.js';
import { runSetting } from '../lib/experiments/run.js';
import { runExperiment, readExperimentConfig } from '../lib/experiments/experiment.js';
import { runDemo } from '../lib/experiments/demo.js';
import { ByteTokenizer } from '../lib/io/tokenizer.js';
import { packageRoot } from '../lib/native/loader.js';
import { sharedPath, skipMessage, prepareSynthetic } from './helpers.js';

const model = sharedPath('fixtures/hf/llama/model');
const skip = model ? false : skipMessage('fixtures/hf/llama/model');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-train-'));
const prepared = path.join(root, 'prepared');

async function data(): Promise<string> {
  if (fs.existsSync(path.join(prepared, 'manifest.json'))) return prepared;
  return prepareSynthetic(root);
}

const quick = { lr: 5e-3, batchSize: 4, gradAccum: 2, epochs: 1, maxSteps: 6, evalBatchSize: 16, seed: 5 };

for (const setting of ['CLS', 'CLS-P', 'LM', 'LM-P'] as const) {
  test(`${setting}: trains on the fixture model, its loss falls, and it evaluates`, { skip, timeout: 120_000 }, async () => {
    const out = path.join(root, setting);
    const r = await runSetting({
      prepared: await data(),
      model: model!,
      setting,
      out,
      tokenizer: new ByteTokenizer(),
      quantize: 'nf4',
      maxLength: 512,
      lora: { r: 8, alpha: 16, dropout: 0.05 },
      train: quick,
      limit: { train: 24, val: 8, test: 8 },
    });
    const h = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8')).history as { loss: number }[];
    assert.equal(h.length, 6);
    const first = (h[0].loss + h[1].loss) / 2,
      last = (h[4].loss + h[5].loss) / 2;
    assert.ok(last < first, `loss ${first.toFixed(4)} → ${last.toFixed(4)}`);
    assert.equal(r.rows, 8);
    const preds = fs
      .readFileSync(path.join(out, 'predictions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(preds.length, 8);
    assert.ok(preds.every((p) => Array.isArray(p.truth) && p.truth.length > 0));
    assert.ok(fs.existsSync(path.join(out, 'best', 'adapter_model.safetensors')));
  });
}

test('LM-P with gradientCheckpointing: the same loss history and predictions as without', { skip, timeout: 120_000 }, async () => {
  const out = path.join(root, 'LM-P-ck');
  await runSetting({
    prepared: await data(),
    model: model!,
    setting: 'LM-P',
    out,
    tokenizer: new ByteTokenizer(),
    quantize: 'nf4',
    maxLength: 512,
    lora: { r: 8, alpha: 16, dropout: 0.05 },
    train: quick,
    limit: { train: 24, val: 8, test: 8 },
    gradientCheckpointing: true,
  });
  const read = (dir: string, f: string) => fs.readFileSync(path.join(root, dir, f), 'utf8');
  assert.deepEqual(JSON.parse(read('LM-P-ck', 'checkpoint/state.json')).history, JSON.parse(read('LM-P', 'checkpoint/state.json')).history);
  assert.equal(read('LM-P-ck', 'predictions.jsonl'), read('LM-P', 'predictions.jsonl'));
});

test(
  'CLS-P with bf16 activations and gradient checkpointing trains (loss falls), evaluates, and tracks the f32 run',
  { skip, timeout: 120_000 },
  async () => {
    const out = path.join(root, 'CLS-P-bf16');
    const r = await runSetting({
      prepared: await data(),
      model: model!,
      setting: 'CLS-P',
      out,
      tokenizer: new ByteTokenizer(),
      quantize: 'nf4',
      maxLength: 512,
      lora: { r: 8, alpha: 16, dropout: 0.05 },
      train: quick,
      limit: { train: 24, val: 8, test: 8 },
      activations: 'bf16',
      gradientCheckpointing: true,
    });
    const hist = (dir: string) =>
      (JSON.parse(fs.readFileSync(path.join(root, dir, 'checkpoint', 'state.json'), 'utf8')).history as { loss: number }[]).map(
        (h) => h.loss,
      );
    const h = hist('CLS-P-bf16'),
      f = hist('CLS-P');
    assert.equal(h.length, 6);
    assert.ok((h[4] + h[5]) / 2 < (h[0] + h[1]) / 2, `loss ${h.join(', ')}`);
    h.forEach((l, i) => assert.ok(Math.abs(l - f[i]) / f[i] < 0.05, `step ${i}: bf16 loss ${l} vs f32 ${f[i]}`));
    assert.equal(r.rows, 8);
  },
);

test('eval evaluates a trained run without training; a folder without best/ is a clear error', { skip, timeout: 60_000 }, async () => {
  const out = path.join(root, 'CLS');
  const before = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
  const state = fs.readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8');
  const r = await runSetting({
    prepared: await data(),
    model: model!,
    setting: 'CLS',
    out,
    tokenizer: new ByteTokenizer(),
    quantize: 'nf4',
    maxLength: 512,
    train: quick,
    limit: { train: 24, val: 8, test: 8 },
    evalOnly: true,
  });
  assert.equal(r.f1Macro, before.f1Macro);
  assert.equal(fs.readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8'), state, 'nothing was trained');
  await assert.rejects(
    runSetting({
      prepared: await data(),
      model: model!,
      setting: 'CLS',
      out: path.join(root, 'empty'),
      tokenizer: new ByteTokenizer(),
      evalOnly: true,
      limit: { test: 4 },
    }),
    /no best\/ to evaluate/,
  );
});

test(
  'kill -9 mid-training, then --resume with another thread count: the same final adapter and metrics as an uninterrupted run',
  { skip, timeout: 240_000 },
  async () => {
    await data();
    const script = path.join(root, 'child.mjs');
    const lib = (p: string) => JSON.stringify(path.join(packageRoot(), 'dist', 'lib', p));
    fs.writeFileSync(
      script,
      `import { runSetting } from ${lib('experiments/run.js')};
import { ByteTokenizer } from ${lib('io/tokenizer.js')};
const [out, killAt, resume] = process.argv.slice(2);
await runSetting({ prepared: ${JSON.stringify(prepared)}, model: ${JSON.stringify(model)}, setting: 'LM-P', out, tokenizer: new ByteTokenizer(),
  quantize: 'nf4', maxLength: 512, resume: resume === '1', lora: { r: 4, alpha: 8, dropout: 0.1 },
  train: { lr: 5e-3, batchSize: 4, gradAccum: 1, epochs: 2, maxSteps: 8, saveEvery: 1, evalBatchSize: 16, seed: 9 },
  limit: { train: 16, val: 4, test: 6 },
  hooks: { onStep: (s) => { if (s.step === Number(killAt)) process.kill(process.pid, 'SIGKILL'); } } });
`,
    );
    // the resumed part runs with another OpenMP thread count: reductions must not depend on it
    const run = (out: string, killAt: number, resume: boolean, threads: number) =>
      spawnSync(process.execPath, [script, out, String(killAt), resume ? '1' : '0'], {
        encoding: 'utf8',
        env: { ...process.env, OMP_NUM_THREADS: String(threads) },
      });
    const a = path.join(root, 'uninterrupted'),
      b = path.join(root, 'killed');
    assert.equal(run(a, -1, false, 2).status, 0);
    const killed = run(b, 5, false, 2);
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(!fs.existsSync(path.join(b, 'metrics.json')));
    const resumed = run(b, -1, true, 3);
    assert.equal(resumed.status, 0, resumed.stderr);
    const bytes = (d: string, f: string) => fs.readFileSync(path.join(d, f));
    assert.ok(
      bytes(a, 'checkpoint/adapter/adapter_model.safetensors').equals(bytes(b, 'checkpoint/adapter/adapter_model.safetensors')),
      'final adapter bit-identical',
    );
    assert.ok(
      bytes(a, 'checkpoint/optimizer.safetensors').equals(bytes(b, 'checkpoint/optimizer.safetensors')),
      'optimizer state identical',
    );
    assert.ok(bytes(a, 'predictions.jsonl').equals(bytes(b, 'predictions.jsonl')));
    const ma = JSON.parse(bytes(a, 'metrics.json').toString()),
      mb = JSON.parse(bytes(b, 'metrics.json').toString());
    assert.equal(mb.f1Macro, ma.f1Macro);
    const ha = JSON.parse(bytes(a, 'checkpoint/state.json').toString()).history,
      hb = JSON.parse(bytes(b, 'checkpoint/state.json').toString()).history;
    assert.deepEqual(
      hb.map((x: { loss: number }) => x.loss),
      ha.map((x: { loss: number }) => x.loss),
    );
  },
);

test(
  'experiment on a two-run grid writes results, the tables and a valid SVG, and skips finished runs',
  { skip, timeout: 120_000 },
  async () => {
    const out = path.join(root, 'exp');
    const cfg = {
      out,
      datasets: [{ name: 'synthetic', prepared: await data() }],
      models: [{ name: 'tiny-llama', path: model!, quantize: null }],
      settings: ['CLS', 'CLS-P'] as ('CLS' | 'CLS-P')[],
      lora: { r: 4, alpha: 8 },
      train: quick,
      maxLength: 512,
      limit: { train: 16, val: 4, test: 6 },
    };
    // the fixture model has no tokenizer.json: give the runs the byte tokenizer's vocabulary through a copy
    const withTok = path.join(root, 'tiny-llama');
    fs.mkdirSync(withTok, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(model!, f), path.join(withTok, f));
    fs.copyFileSync(path.join(packageRoot(), 'experiments', 'byte-tokenizer', 'tokenizer.json'), path.join(withTok, 'tokenizer.json'));
    cfg.models[0].path = withTok;
    const r = await runExperiment(cfg);
    assert.equal(r.length, 2);
    const tables = fs.readFileSync(path.join(out, 'tables.md'), 'utf8');
    assert.match(tables, /### Table I/);
    assert.match(tables, /### Table II/);
    assert.match(tables, /### Table III/);
    assert.match(tables, /\| synthetic \| tiny-llama \| – \| – \| \d+\.\d\d \| \d+\.\d\d \|/);
    const csv = fs.readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 3);
    const svg = fs.readFileSync(path.join(out, 'gains.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>/);
    assert.match(svg, /<\/svg>\n$/);
    // one pair: a bar, or a note when CLS scored 0 (no relative gain)
    assert.match(svg, /CLS-P vs CLS/);
    assert.equal((svg.match(/<rect x=/g) ?? []).length, /CLS-P vs CLS not drawn/.test(svg) ? 0 : 1, 'one bar: CLS-P vs CLS');
    assert.match(fs.readFileSync(path.join(out, 'f1.svg'), 'utf8'), /<text [^>]*>CLS-P<\/text>/);
    const logs: string[] = [];
    await runExperiment(cfg, (m) => logs.push(m));
    assert.equal(logs.filter((l) => l.startsWith('skip')).length, 2);
  },
);

test(
  'experiment options: device, precision and activations are checked in the config, and the device reaches every run',
  { skip, timeout: 60_000 },
  async () => {
    const bad = (extra: object) => {
      const f = path.join(root, 'bad-experiment.json');
      fs.writeFileSync(f, JSON.stringify({ out: 'x', datasets: [], models: [], settings: ['CLS'], ...extra }));
      return f;
    };
    assert.throws(() => readExperimentConfig(bad({ device: 'tpu' })), /device 'tpu' is not one of cpu, cuda/);
    assert.throws(() => readExperimentConfig(bad({ activations: 'f8' })), /activations 'f8' is not one of f32, bf16, f16/);
    assert.throws(() => readExperimentConfig(bad({ matmulPrecision: 'tf32' })), /matmulPrecision 'tf32'/);
    assert.throws(() => readExperimentConfig(bad({ gradientCheckpointing: 'yes' })), /gradientCheckpointing must be true or false/);
    assert.equal(readExperimentConfig(bad({ device: 'cuda', activations: 'bf16', gradientCheckpointing: true })).device, 'cuda');
    if (!info().cuda.usable) {
      // without a GPU the first run's loadModel says why
      const withTok = path.join(root, 'tiny-llama-tok');
      fs.mkdirSync(withTok, { recursive: true });
      for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(model!, f), path.join(withTok, f));
      fs.copyFileSync(path.join(packageRoot(), 'experiments', 'byte-tokenizer', 'tokenizer.json'), path.join(withTok, 'tokenizer.json'));
      const cfg = {
        out: path.join(root, 'exp-cuda'),
        datasets: [{ name: 'synthetic', prepared: await data() }],
        models: [{ name: 'tiny', path: withTok, quantize: null }],
        settings: ['CLS'] as 'CLS'[],
        device: 'cuda' as const,
        limit: { train: 4, val: 2, test: 2 },
      };
      await assert.rejects(runExperiment(cfg), (e: Error) => e instanceof DeviceError && /device 'cuda' asked for/.test(e.message));
    }
  },
);

test('quantize output reloads to the same NF4 bytes (CLI)', { skip }, () => {
  const out = path.join(root, 'q');
  execFileSync(process.execPath, [path.join(packageRoot(), 'dist/bin/plf-native.js'), 'quantize', '--model', model!, '--out', out], {
    encoding: 'utf8',
  });
  const a = loadModel(out),
    b = loadModel(model!, { quantize: 'nf4' });
  a.linears().forEach((l, i) => {
    const w = l.weight,
      v = b.linears()[i].weight;
    assert.ok(isNF4(w) && isNF4(v));
    assert.deepEqual(w.weight.toArray(), v.weight.toArray());
    assert.deepEqual(w.absmax.toArray(), v.absmax.toArray());
  });
  assert.ok(new Checkpoint(out).has('model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4'));
});

test('a short demo runs end to end and writes its table and chart', { timeout: 240_000 }, async () => {
  const out = path.join(root, 'demo');
  const logs: string[] = [];
  const r = await runDemo({ out, synthetic: true, settings: ['Q-0S', 'CLS', 'CLS-P'], epochs: 1, items: 40, log: (m) => logs.push(m) });
  assert.equal(r.results.length, 3);
  assert.ok(
    logs.some((l) => /SYNTHETIC/.test(l)),
    'says the data is synthetic',
  );
  for (const f of ['results.json', 'results.csv', 'tables.md', 'gains.svg']) assert.ok(fs.existsSync(path.join(out, f)), f);
});

test.after(() => fs.rmSync(root, { recursive: true, force: true }));
