// The model engine against transformers 5.17 + peft 0.21 golden outputs (../shared/fixtures/hf):
// logits, losses, NF4 logits, LoRA gradients, 3 AdamW steps, greedy generation, adapter round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  loadModel,
  AdamW,
  Tensor,
  ConfigError,
  DeviceError,
  info,
  writeRandomLlama,
  randomLlamaModel,
  profileOps,
  type DecoderModel,
} from '../lib/index.js';
import { openSafetensors, readTensor, type SafetensorsFile } from '../lib/io/safetensors.js';
import { StepGraph } from '../lib/ops/graph.js';
import { relDiff, sharedPath, skipMessage, throwsWith, checkCheckpointing, randnArray } from './helpers.js';

const ROOT = 'fixtures/hf';
const ARCHS = ['llama', 'mistral', 'qwen2', 'phi', 'gpt_neox'];
const fixtures = sharedPath(ROOT);
const skip = fixtures ? false : skipMessage(ROOT);
const dir = (...p: string[]) => path.join(fixtures ?? '', ...p);
const get = (f: SafetensorsFile, k: string) => readTensor(f, k);

/** max |a−b| / max |ref| over the positions where mask is 1 (rows of `width`) */
function maskedRelDiff(a: Float32Array, ref: Float32Array, mask: BigInt64Array, width: number): number {
  let md = 0,
    mr = 0;
  mask.forEach((m, p) => {
    if (!m) return;
    for (let i = p * width; i < (p + 1) * width; i++) {
      md = Math.max(md, Math.abs(a[i] - ref[i]));
      mr = Math.max(mr, Math.abs(ref[i]));
    }
  });
  return md / mr;
}

for (const arch of ARCHS) {
  test(`${arch}: causal-LM logits and NF4 logits match transformers`, { skip }, () => {
    for (const [file, quantize] of [
      ['lm.safetensors', null],
      ['lm_nf4.safetensors', 'nf4'],
    ] as const) {
      const m = loadModel(dir(arch, 'model'), { quantize });
      const f = openSafetensors(dir(arch, file));
      const mask = get(f, 'attention_mask');
      const { logits } = m.forward({ inputIds: get(f, 'input_ids'), attentionMask: mask });
      const d = maskedRelDiff(logits.toFloat32(), get(f, 'logits').toFloat32(), mask.toArray() as BigInt64Array, m.config.vocabSize);
      assert.ok(d < 1e-4, `${arch} ${file}: ${d}`);
      m.dispose();
    }
  });

  test(`${arch}: sequence-classification logits and loss match transformers`, { skip }, () => {
    const m = loadModel(dir(arch, 'model_cls'));
    assert.equal(m.task, 'sequence-classification');
    const f = openSafetensors(dir(arch, 'cls.safetensors'));
    const { logits, loss } = m.forward({
      inputIds: get(f, 'input_ids'),
      attentionMask: get(f, 'attention_mask'),
      labels: get(f, 'labels'),
    });
    assert.ok(relDiff(logits.toFloat32(), get(f, 'logits').toFloat32()) < 1e-4);
    const ref = get(f, 'loss').toFloat32()[0];
    assert.ok(Math.abs(loss! - ref) / Math.abs(ref) < 1e-4, `loss ${loss} vs ${ref}`);
    m.dispose();
  });

  for (const kind of ['lora_cls', 'lora_lm'] as const) {
    test(`${arch}: ${kind} adapter — logits, loss, every gradient, 3 AdamW steps`, { skip }, () => {
      const m = loadModel(dir(arch, kind === 'lora_cls' ? 'model_cls' : 'model'));
      m.loadAdapter(dir(arch, kind));
      const g = openSafetensors(dir(arch, kind, 'grads.safetensors'));
      const batch = { inputIds: get(g, 'input.input_ids'), attentionMask: get(g, 'input.attention_mask'), labels: get(g, 'input.labels') };
      const trainable = JSON.parse(fs.readFileSync(dir(arch, kind, 'trainable.json'), 'utf8')) as string[];
      const params = m.trainableParameters();
      assert.deepEqual(params.map((p) => p.name).sort(), [...trainable].sort(), 'trainable names as PEFT names them');
      const mask = batch.attentionMask.toArray() as BigInt64Array;
      const losses = get(g, 'losses').toFloat32();
      const opt = new AdamW(
        params.map((p) => p.param),
        { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 },
      );
      for (let step = 0; step < 3; step++) {
        m.zeroGrad();
        const { logits, loss } = m.forward(batch, { train: true });
        assert.ok(Math.abs(loss! - losses[step]) / losses[step] < 1e-4, `step ${step} loss ${loss} vs ${losses[step]}`);
        if (step === 0) {
          const ref = get(g, 'logits').toFloat32();
          const d =
            kind === 'lora_cls' ? relDiff(logits.toFloat32(), ref) : maskedRelDiff(logits.toFloat32(), ref, mask, m.config.vocabSize);
          assert.ok(d < 1e-3, `logits ${d}`);
        }
        m.backward();
        if (step === 0)
          for (const p of params) {
            const d = relDiff(p.grad.toFloat32(), get(g, `grad.${p.name}`).toFloat32());
            assert.ok(d < 1e-3, `grad ${p.name}: ${d}`);
          }
        opt.stepWith(params.map((p) => p.grad));
      }
      for (const p of params) {
        const d = relDiff(p.param.toFloat32(), get(g, `after3.${p.name}`).toFloat32());
        assert.ok(d < 1e-3, `after 3 steps ${p.name}: ${d}`);
      }
      opt.dispose();
      m.dispose();
    });
  }

  test(`${arch}: activation checkpointing gives the same loss and gradients bit for bit (dropout too), keeping less`, { skip }, () => {
    const g = openSafetensors(dir(arch, 'lora_lm', 'grads.safetensors'));
    const batch = { inputIds: get(g, 'input.input_ids'), attentionMask: get(g, 'input.attention_mask'), labels: get(g, 'input.labels') };
    checkCheckpointing(
      (dropout) => {
        const m = loadModel(dir(arch, 'model'));
        if (dropout) m.addLora({ r: 4, alpha: 8, dropout, seed: 7 });
        else m.loadAdapter(dir(arch, 'lora_lm'));
        return m;
      },
      batch,
      (name) => get(g, `grad.${name}`).toFloat32(),
    );
  });

  test(`${arch}: bf16 and f16 activations stay within their rounding of transformers (logits, LoRA gradients, decoding)`, { skip }, () => {
    const g = openSafetensors(dir(arch, 'lora_lm', 'grads.safetensors'));
    const batch = { inputIds: get(g, 'input.input_ids'), attentionMask: get(g, 'input.attention_mask'), labels: get(g, 'input.labels') };
    const mask = batch.attentionMask.toArray() as BigInt64Array;
    // tolerances: ~10 (logits) and ~20 (gradients) units of the dtype's rounding (bf16 2^-8, f16 2^-11)
    for (const [activations, tolLogits, tolGrad] of [
      ['bf16', 4e-2, 8e-2],
      ['f16', 5e-3, 1.5e-2],
    ] as const) {
      const m = loadModel(dir(arch, 'model'), { activations }) as DecoderModel;
      // the frozen embedding and LM head are kept in the activations' dtype, as transformers keeps a bf16 model's
      assert.equal(m.embed.dtype, activations);
      assert.equal((m.head.weight as Tensor).dtype, activations);
      m.loadAdapter(dir(arch, 'lora_lm'));
      m.zeroGrad();
      const prof = profileOps(() => m.forward(batch, { train: true }));
      const { logits, loss } = prof.result;
      assert.equal(logits.dtype, activations);
      const d = maskedRelDiff(logits.toFloat32(), get(g, 'logits').toFloat32(), mask, m.config.vocabSize);
      assert.ok(d < tolLogits, `${activations} logits ${d}`);
      const ref = get(g, 'losses').toFloat32()[0];
      assert.ok(Math.abs(loss! - ref) / ref < 1e-2, `${activations} loss ${loss} vs ${ref}`);
      const bprof = profileOps(() => m.backward());
      // every op gets its activations in one dtype (CUDA would stage a mixed call through f32)
      const mixed = [...prof.ops, ...bprof.ops].filter((o) => o.mixed).map((o) => `${o.op} ×${o.mixed}`);
      assert.deepEqual(mixed, [], `${activations}: ops called with mixed activation dtypes`);
      for (const p of m.trainableParameters()) {
        assert.equal(p.grad.dtype, 'f32');
        const e = relDiff(p.grad.toFloat32(), get(g, `grad.${p.name}`).toFloat32());
        assert.ok(e < tolGrad, `${activations} grad ${p.name}: ${e}`);
      }
      const f = openSafetensors(dir(arch, 'gen.safetensors'));
      const ids = get(f, 'input_ids');
      const gen = profileOps(() =>
        m.generate({ inputIds: ids, attentionMask: get(f, 'attention_mask') }, { maxNewTokens: 3, eosTokenId: null }),
      );
      const seqs = gen.result;
      assert.deepEqual(
        gen.ops.filter((o) => o.mixed).map((o) => o.op),
        [],
        `${activations}: decoding ops with mixed activation dtypes`,
      );
      assert.equal(seqs.length, ids.shape[0]);
      assert.ok(seqs.every((s) => s.length === ids.shape[1] + 3 && s.every((t) => t >= 0 && t < m.config.vocabSize)));
      m.dispose();
    }
  });

  test(`${arch}: trainAll on a bf16-activation model trains its embedding and head in f32`, { skip }, () => {
    const g = openSafetensors(dir(arch, 'lora_lm', 'grads.safetensors'));
    const batch = { inputIds: get(g, 'input.input_ids'), attentionMask: get(g, 'input.attention_mask'), labels: get(g, 'input.labels') };
    const m = loadModel(dir(arch, 'model'), { activations: 'bf16' }) as DecoderModel;
    m.trainAll();
    assert.equal(m.embed.dtype, 'f32');
    assert.equal((m.head.weight as Tensor).dtype, 'f32');
    const { loss } = m.forward(batch, { train: true });
    m.backward();
    assert.ok(Number.isFinite(loss));
    const names = m.trainableParameters().map((p) => p.name);
    assert.ok(names.includes(m.spec.embed), `the embedding trains: ${names.slice(0, 3)}…`);
    m.dispose();
  });

  test(`${arch}: greedy generation equals transformers' sequences`, { skip }, () => {
    const m = loadModel(dir(arch, 'model'));
    const f = openSafetensors(dir(arch, 'gen.safetensors'));
    const ids = get(f, 'input_ids'),
      ref = get(f, 'sequences');
    const n = ref.shape[1] - ids.shape[1];
    const seqs = m.generate({ inputIds: ids, attentionMask: get(f, 'attention_mask') }, { maxNewTokens: n, eosTokenId: null });
    const want = Array.from(ref.toArray() as BigInt64Array, Number);
    assert.deepEqual(seqs.flat(), want);
    // the recorded step's path (the CUDA graph's on a GPU), picking on the device (mistral: its
    // sliding window of 6 folded into the mask)
    const rec = m.generate({ inputIds: ids, attentionMask: get(f, 'attention_mask') }, { maxNewTokens: n, eosTokenId: null, graph: true });
    assert.deepEqual(rec.flat(), want, 'recorded step');
    m.dispose();
  });

  test(`${arch}: decoding a recorded step (the CUDA graph's path) gives the op calls' logits bit for bit`, { skip }, () => {
    const f = openSafetensors(dir(arch, 'gen.safetensors'));
    const batch = { inputIds: get(f, 'input_ids'), attentionMask: get(f, 'attention_mask') };
    const n = get(f, 'sequences').shape[1] - batch.inputIds.shape[1];
    for (const activations of ['f32', 'bf16'] as const) {
      const m = loadModel(dir(arch, 'model'), { activations }) as DecoderModel;
      // every row's logits of every step, through pick (which then takes the first maximum, as the default)
      const run = (graph: boolean) => {
        const rows: Float32Array[] = [];
        const pick = (lg: Float32Array) => (rows.push(lg.slice()), lg.indexOf(Math.max(...lg)));
        return { seqs: m.generate(batch, { maxNewTokens: n, eosTokenId: null, graph, pick }), rows };
      };
      // mistral: its sliding window (6) is shorter than the cache, folded into the recorded step's mask
      if (arch === 'mistral') assert.ok(m.config.slidingWindow < batch.inputIds.shape[1] + n);
      const eager = run(false),
        recorded = run(true);
      assert.equal(recorded.rows.length, eager.rows.length);
      recorded.rows.forEach((r, i) => assert.deepEqual(r, eager.rows[i], `${activations} step row ${i}`));
      assert.deepEqual(recorded.seqs, eager.seqs);
      m.dispose();
    }
  });

  test(`${arch}: an adapter saved by plf-native reloads bit-identically with PEFT's keys and config`, { skip }, () => {
    const kind = 'lora_cls';
    const m = loadModel(dir(arch, 'model_cls'));
    m.loadAdapter(dir(arch, kind));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-adapter-'));
    try {
      m.saveAdapter(out);
      const ours = openSafetensors(path.join(out, 'adapter_model.safetensors'));
      const theirs = openSafetensors(dir(arch, kind, 'adapter_model.safetensors'));
      assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
      for (const k of theirs.tensors.keys()) assert.deepEqual(get(ours, k).toArray(), get(theirs, k).toArray(), k);
      const oc = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
      const tc = JSON.parse(fs.readFileSync(dir(arch, kind, 'adapter_config.json'), 'utf8'));
      assert.deepEqual(Object.keys(oc).sort(), Object.keys(tc).sort());
      for (const k of ['r', 'lora_alpha', 'lora_dropout', 'peft_type', 'task_type', 'bias', 'use_rslora', 'fan_in_fan_out'])
        assert.deepEqual(oc[k], tc[k], k);
      assert.deepEqual([...oc.target_modules].sort(), [...tc.target_modules].sort());
      assert.deepEqual(oc.modules_to_save, tc.modules_to_save);
      const again = loadModel(dir(arch, 'model_cls'));
      again.loadAdapter(out);
      const a = m.trainableParameters(),
        b = again.trainableParameters();
      a.forEach((p, i) => assert.deepEqual(b[i].param.toArray(), p.param.toArray(), p.name));
      again.dispose();
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
      m.dispose();
    }
  });
}

test(
  'generate keeps its recorded steps and caches between calls: recorded once per shape (four shapes kept, the least recently used dropped), again when the weights are replaced',
  { skip },
  () => {
    const m = loadModel(dir('llama', 'model')) as DecoderModel;
    const f = openSafetensors(dir('llama', 'gen.safetensors'));
    const batch = { inputIds: get(f, 'input_ids'), attentionMask: get(f, 'attention_mask') };
    const gen = (n: number, o: { graph: boolean; keep?: boolean }, b = batch) => m.generate(b, { maxNewTokens: n, eosTokenId: null, ...o });
    const want = gen(7, { graph: false });
    const first = (rows: number[][], n: number) => rows.map((r) => r.slice(0, batch.inputIds.shape[1] + n));
    let at = StepGraph.recordings;
    const recorded = () => {
      const n = StepGraph.recordings - at;
      at = StepGraph.recordings;
      return n;
    };
    assert.deepEqual(gen(5, { graph: true }), first(want, 5));
    assert.deepEqual(gen(7, { graph: true }), want, 'the kept cache starts clean');
    assert.equal(recorded(), 1, 'two calls of one batch shape and capacity bucket: one recording');
    // another batch size: another shape, kept beside the first
    const one = {
      inputIds: batch.inputIds.view([1, batch.inputIds.shape[1]]),
      attentionMask: batch.attentionMask.view([1, batch.attentionMask.shape[1]]),
    };
    assert.deepEqual(gen(4, { graph: true }, one), gen(4, { graph: false }, one));
    assert.equal(recorded(), 1);
    gen(4, { graph: true }, one);
    assert.deepEqual(gen(7, { graph: true }), want, 'the first shape again');
    assert.equal(recorded(), 0, 'both shapes kept');
    // past four shapes the least recently used goes: batches of 4, 5 and 6 rows (row 0 repeated)
    const T = batch.inputIds.shape[1];
    const ids = batch.inputIds.toArray() as BigInt64Array,
      am = batch.attentionMask.toArray() as BigInt64Array;
    const rows = (k: number) => {
      assert.notEqual(k, batch.inputIds.shape[0]);
      const r = (a: BigInt64Array) =>
        Tensor.from(
          BigInt64Array.from({ length: k * T }, (_, i) => a[i % T]),
          [k, T],
        );
      return gen(3, { graph: true }, { inputIds: r(ids), attentionMask: r(am) });
    };
    rows(4);
    rows(5);
    assert.equal(recorded(), 2, 'two more shapes');
    gen(5, { graph: true });
    gen(4, { graph: true }, one);
    assert.equal(recorded(), 0, 'four shapes kept');
    rows(6); // a fifth: the least recently used (4 rows) goes
    gen(5, { graph: true });
    gen(4, { graph: true }, one);
    rows(5);
    rows(6);
    assert.equal(recorded(), 1, 'the four most recent kept');
    rows(4);
    assert.equal(recorded(), 1, 'the dropped one is recorded again');
    // an adapter attached: the model's parts changed, so the step is recorded again; then values
    // written in place (as training does) are what the kept step reads
    m.addLora({ r: 4, alpha: 8 });
    for (const lin of m.linears()) lin.lora!.B.write(randnArray(lin.lora!.B.numel, 0.5));
    assert.deepEqual(gen(4, { graph: true }, one), gen(4, { graph: false }, one), 'with the adapter');
    assert.equal(recorded(), 1, 'recorded again for the adapter');
    for (const lin of m.linears()) lin.lora!.A.write(randnArray(lin.lora!.A.numel, 0.5));
    assert.deepEqual(gen(4, { graph: true }, one), gen(4, { graph: false }, one), 'after an in-place update');
    assert.equal(recorded(), 0, 'in-place updates keep the step');
    gen(4, { graph: true, keep: false }, one);
    gen(4, { graph: true, keep: false }, one);
    assert.equal(recorded(), 2, 'keep: false records per call');
    m.dispose();
  },
);

test('unsupported model types and bad configs are clear errors', { skip }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-cfg-'));
  try {
    fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify({ model_type: 'bert' }));
    throwsWith(() => loadModel(tmp), ConfigError, /model_type 'bert'/, /llama, mistral, qwen2, phi, gpt_neox/);
    fs.writeFileSync(path.join(tmp, 'config.json'), '{nope');
    throwsWith(() => loadModel(tmp), ConfigError, /config\.json/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const m = loadModel(dir('llama', 'model'));
  throwsWith(() => m.addLora({ r: 2, alpha: 4, targetModules: ['nope'] }), ConfigError, /targetModules/);
  const c = info().cuda;
  if (!c.usable)
    throwsWith(() => loadModel(dir('llama', 'model'), { device: 'cuda' }), DeviceError, /device 'cuda' asked for, but/, /use device 'cpu'/);
  m.dispose();
  assert.ok(Tensor);
});

test('a random Llama generated on demand equals the same weights written as a checkpoint and loaded (f32 and NF4)', () => {
  const shape = { hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 96, vocab: 97 };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-random-'));
  try {
    writeRandomLlama(out, shape, { repeatBlock: true, seed: 9 });
    const ids = [[5, 17, 3, 90, 42, 7]];
    for (const quantize of [null, 'nf4'] as const) {
      const a = loadModel(out, { quantize }),
        b = randomLlamaModel(shape, { quantize, seed: 9 });
      assert.deepEqual(
        b.forward({ inputIds: ids }).logits.toArray(),
        a.forward({ inputIds: ids }).logits.toArray(),
        `quantize ${quantize}`,
      );
      a.dispose();
      b.dispose();
    }
    const m = randomLlamaModel({ ...shape, slidingWindow: 3 });
    assert.equal(m.config.modelType, 'mistral');
    assert.equal(m.config.slidingWindow, 3);
    m.dispose();
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
