// T5 (Flan-T5 style, gated-gelu) against transformers 5.17 + peft 0.21 golden outputs
// (../shared/fixtures/hf/t5): LM logits, cls logits and loss, LoRA logits/loss/grads and 3 AdamW
// steps, greedy sequences, adapters both ways; config semantics (tied/untied head, output scaling),
// the relu variant by finite differences, and the EOS rules of T5ForSequenceClassification.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, AdamW, Tensor, ArgumentError, writeSafetensors, Checkpoint, T5Model, profileOps } from '../lib/index.js';
import { isNF4 } from '../lib/ops/index.js';
import { runSetting } from '../lib/experiments/run.js';
import type { TextTokenizer } from '../lib/io/tokenizer.js';
import { relativePositionBucket } from '../lib/models/t5/config.js';
import { openSafetensors, readTensor, type SafetensorsFile } from '../lib/io/safetensors.js';
import { relDiff, sharedPath, skipMessage, throwsWith, prepareSynthetic, checkCheckpointing } from './helpers.js';

const ROOT = 'fixtures/hf/t5';
const fixtures = sharedPath(ROOT);
const skip = fixtures ? false : skipMessage(ROOT);
const dir = (...p: string[]) => path.join(fixtures ?? '', ...p);
const get = (f: SafetensorsFile, k: string) => readTensor(f, k);
const t5 = (d: string, o: Parameters<typeof loadModel>[1] = {}) => loadModel(d, o) as T5Model;
const tmpdir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'plf-t5-'));

test("relative position buckets equal transformers' _relative_position_bucket", () => {
  // num_buckets 32, max_distance 128, rel = -300 … 300 step 25, from a numpy float32 transcription of
  // transformers' T5Attention._relative_position_bucket (the fixtures check the small-distance range)
  const rel = [
    -300, -275, -250, -225, -200, -175, -150, -125, -100, -75, -50, -25, 0, 25, 50, 75, 100, 125, 150, 175, 200, 225, 250, 275, 300,
  ];
  const bi = [15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 13, 11, 0, 27, 29, 30, 31, 31, 31, 31, 31, 31, 31, 31, 31];
  const causal = [31, 31, 31, 31, 31, 31, 31, 31, 30, 27, 24, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  assert.deepEqual(
    rel.map((r) => relativePositionBucket(r, true, 32, 128)),
    bi,
  );
  assert.deepEqual(
    rel.map((r) => relativePositionBucket(r, false, 32, 128)),
    causal,
  );
  // exact region and the fixture's small table (8 buckets, max distance 20)
  assert.deepEqual(
    [-3, -2, -1, 0, 1, 2, 3].map((r) => relativePositionBucket(r, true, 8, 20)),
    [2, 2, 1, 0, 5, 6, 6],
  );
});

test('t5: LM logits (decoder_input_ids) match transformers; NF4 stays close', { skip }, () => {
  const f = openSafetensors(dir('lm.safetensors'));
  const batch = { inputIds: get(f, 'input_ids'), attentionMask: get(f, 'attention_mask'), decoderInputIds: get(f, 'decoder_input_ids') };
  const ref = get(f, 'logits').toFloat32();
  const m = t5(dir('model'));
  assert.equal(m.task, 'causal-lm');
  assert.equal(m.config.scaleDecoderOutputs, false);
  const { logits } = m.forward(batch);
  assert.deepEqual(logits.shape, [3, 5, 512]);
  const d = relDiff(logits.toFloat32(), ref);
  assert.ok(d < 1e-4, `logits ${d}`);
  m.dispose();
  const q = t5(dir('model'), { quantize: 'nf4' });
  assert.ok(q.linears().every((l) => isNF4(l.weight)) && q.linears().length === 2 * 7 + 2 * 11);
  const dq = relDiff(q.forward(batch).logits.toFloat32(), ref);
  assert.ok(dq > 1e-4 && dq < 0.2, `NF4 logits ${dq}`);
  q.dispose();
});

test('t5: sequence-classification logits and loss match transformers', { skip }, () => {
  const m = t5(dir('model_cls'));
  assert.equal(m.task, 'sequence-classification');
  const f = openSafetensors(dir('cls.safetensors'));
  const { logits, loss } = m.forward({ inputIds: get(f, 'input_ids'), attentionMask: get(f, 'attention_mask'), labels: get(f, 'labels') });
  assert.ok(relDiff(logits.toFloat32(), get(f, 'logits').toFloat32()) < 1e-4);
  const ref = get(f, 'loss').toFloat32()[0];
  assert.ok(Math.abs(loss! - ref) / Math.abs(ref) < 1e-4, `loss ${loss} vs ${ref}`);
  m.dispose();
});

test('t5: lora_cls adapter — logits, loss, every gradient, 3 AdamW steps', { skip }, () => {
  const m = t5(dir('model_cls'));
  m.loadAdapter(dir('lora_cls'));
  const g = openSafetensors(dir('lora_cls', 'grads.safetensors'));
  const batch = { inputIds: get(g, 'input.input_ids'), attentionMask: get(g, 'input.attention_mask'), labels: get(g, 'input.labels') };
  const trainable = JSON.parse(fs.readFileSync(dir('lora_cls', 'trainable.json'), 'utf8')) as string[];
  const params = m.trainableParameters();
  assert.deepEqual(params.map((p) => p.name).sort(), [...trainable].sort(), 'trainable names as PEFT names them');
  const losses = get(g, 'losses').toFloat32();
  const opt = new AdamW(
    params.map((p) => p.param),
    { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 },
  );
  for (let step = 0; step < 3; step++) {
    m.zeroGrad();
    const { logits, loss } = m.forward(batch, { train: true });
    assert.ok(Math.abs(loss! - losses[step]) / losses[step] < 1e-4, `step ${step} loss ${loss} vs ${losses[step]}`);
    if (step === 0) assert.ok(relDiff(logits.toFloat32(), get(g, 'logits').toFloat32()) < 1e-3);
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

test('t5: activation checkpointing gives the same loss and gradients bit for bit (dropout too), keeping less', { skip }, () => {
  const g = openSafetensors(dir('lora_cls', 'grads.safetensors'));
  const batch = { inputIds: get(g, 'input.input_ids'), attentionMask: get(g, 'input.attention_mask'), labels: get(g, 'input.labels') };
  checkCheckpointing(
    (dropout) => {
      const m = t5(dir('model_cls'));
      if (dropout) m.addLora({ r: 4, alpha: 8, dropout, seed: 3 });
      else m.loadAdapter(dir('lora_cls'));
      return m;
    },
    batch,
    (name) => get(g, `grad.${name}`).toFloat32(),
  );
});

test(
  't5: bf16 and f16 activations stay within their rounding of transformers (cls logits, loss, LoRA gradients, LM decoding)',
  { skip },
  () => {
    const g = openSafetensors(dir('lora_cls', 'grads.safetensors'));
    const batch = { inputIds: get(g, 'input.input_ids'), attentionMask: get(g, 'input.attention_mask'), labels: get(g, 'input.labels') };
    // T5's unscaled attention scores amplify rounding more than the decoder families: gradients are
    // judged by their median and worst error; f16 (3 more mantissa bits) must be ~8× closer than bf16
    for (const [activations, tolLogits, tolMedian, tolMax] of [
      ['bf16', 2e-2, 8e-2, 0.4],
      ['f16', 4e-3, 1.5e-2, 6e-2],
    ] as const) {
      const m = t5(dir('model_cls'), { activations });
      m.loadAdapter(dir('lora_cls'));
      m.zeroGrad();
      const prof = profileOps(() => m.forward(batch, { train: true }));
      const { logits, loss } = prof.result;
      assert.equal(logits.dtype, activations);
      const d = relDiff(logits.toFloat32(), get(g, 'logits').toFloat32());
      assert.ok(d < tolLogits, `${activations} logits ${d}`);
      const ref = get(g, 'losses').toFloat32()[0];
      assert.ok(Math.abs(loss! - ref) / ref < 1e-2, `${activations} loss ${loss} vs ${ref}`);
      const bprof = profileOps(() => m.backward());
      // every op gets its activations in one dtype (CUDA would stage a mixed call through f32)
      const mixed = [...prof.ops, ...bprof.ops].filter((o) => o.mixed).map((o) => `${o.op} ×${o.mixed}`);
      assert.deepEqual(mixed, [], `${activations}: ops called with mixed activation dtypes`);
      const errs = m
        .trainableParameters()
        .map((p) => relDiff(p.grad.toFloat32(), get(g, `grad.${p.name}`).toFloat32()))
        .sort((a, b) => a - b);
      assert.ok(
        errs[errs.length >> 1] < tolMedian && errs[errs.length - 1] < tolMax,
        `${activations} gradient errors: median ${errs[errs.length >> 1]}, worst ${errs[errs.length - 1]}`,
      );
      m.dispose();
      const lm = t5(dir('model'), { activations });
      const f = openSafetensors(dir('gen.safetensors'));
      const seqs = lm.generate(
        { inputIds: get(f, 'input_ids'), attentionMask: get(f, 'attention_mask') },
        { maxNewTokens: 3, eosTokenId: null },
      );
      assert.equal(seqs.length, get(f, 'input_ids').shape[0]);
      assert.ok(seqs.every((s) => s.length >= 2 && s.every((t) => t >= 0 && t < lm.config.vocabSize)));
      lm.dispose();
    }
  },
);

test("t5: greedy generation equals transformers' sequences", { skip }, () => {
  const m = t5(dir('model'));
  const f = openSafetensors(dir('gen.safetensors'));
  const ref = get(f, 'sequences');
  const seqs = m.generate(
    { inputIds: get(f, 'input_ids'), attentionMask: get(f, 'attention_mask') },
    { maxNewTokens: ref.shape[1] - 1, eosTokenId: null },
  );
  assert.deepEqual(seqs.flat(), Array.from(ref.toArray() as BigInt64Array, Number));
  // the cached decoder equals a full teacher-forced pass over the generated prefix
  const ids = get(f, 'input_ids'),
    mask = get(f, 'attention_mask');
  const dec = seqs.map((r) => r.slice(0, -1));
  const full = m.forward({ inputIds: ids, attentionMask: mask, decoderInputIds: dec }).logits.toFloat32();
  const V = 512,
    T = dec[0].length;
  seqs.forEach((r, b) => {
    for (let t = 0; t < T; t++) {
      let best = 0;
      for (let v = 1; v < V; v++) if (full[(b * T + t) * V + v] > full[(b * T + t) * V + best]) best = v;
      assert.equal(best, r[t + 1]);
    }
  });
  m.dispose();
});

test("t5: an adapter saved by plf-native reloads bit-identically with PEFT's keys and config", { skip }, () => {
  const m = t5(dir('model_cls'));
  m.loadAdapter(dir('lora_cls'));
  const out = tmpdir();
  try {
    m.saveAdapter(out);
    const ours = openSafetensors(path.join(out, 'adapter_model.safetensors'));
    const theirs = openSafetensors(dir('lora_cls', 'adapter_model.safetensors'));
    assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
    for (const k of theirs.tensors.keys()) assert.deepEqual(get(ours, k).toArray(), get(theirs, k).toArray(), k);
    const oc = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    const tc = JSON.parse(fs.readFileSync(dir('lora_cls', 'adapter_config.json'), 'utf8'));
    assert.deepEqual(Object.keys(oc).sort(), Object.keys(tc).sort());
    for (const k of ['r', 'lora_alpha', 'lora_dropout', 'peft_type', 'task_type', 'bias', 'modules_to_save'])
      assert.deepEqual(oc[k], tc[k], k);
    assert.deepEqual([...oc.target_modules].sort(), [...tc.target_modules].sort());
    const again = t5(dir('model_cls'));
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

test('t5: untied head (Flan-T5 4.x configs), decoder output scaling, prefixes, fresh classification head', { skip }, () => {
  const f = openSafetensors(dir('lm.safetensors'));
  const batch = { inputIds: get(f, 'input_ids'), attentionMask: get(f, 'attention_mask'), decoderInputIds: get(f, 'decoder_input_ids') };
  const ref = get(f, 'logits').toFloat32();
  const ck = new Checkpoint(dir('model'));
  const cfg = JSON.parse(fs.readFileSync(dir('model', 'config.json'), 'utf8'));
  const { scale_decoder_outputs: _s, tie_word_embeddings: _t, ...legacy } = cfg;
  const write = (tensors: Record<string, Tensor>, config: object) => {
    const d = tmpdir();
    writeSafetensors(path.join(d, 'model.safetensors'), tensors);
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(config));
    return d;
  };
  const all = Object.fromEntries(ck.names().map((n) => [n, ck.tensor(n)]));
  // Flan-T5 style: untied, lm_head stored (here a copy of shared), no scale field → no scaling
  const untied = write({ ...all, 'lm_head.weight': ck.tensor('shared.weight') }, { ...legacy, tie_word_embeddings: false });
  // original-T5 style: no tie flag (default true) → scale by d_model^-½
  const scaled = write(all, legacy);
  // a stored lm_head wins even when the flag says tied (5.17 forces the flag to true)
  const other = new Float32Array(512 * 64).map((_, i) => Math.sin(i));
  const storedHead = write({ ...all, 'lm_head.weight': Tensor.from(other, [512, 64]) }, cfg);
  try {
    const u = t5(untied);
    assert.equal(u.config.scaleDecoderOutputs, false);
    assert.ok(relDiff(u.forward(batch).logits.toFloat32(), ref) < 1e-4, 'untied');
    const s = t5(scaled);
    assert.equal(s.config.scaleDecoderOutputs, true);
    assert.ok(
      relDiff(
        s.forward(batch).logits.toFloat32(),
        ref.map((v) => v * 64 ** -0.5),
      ) < 1e-4,
      'scaled',
    );
    const h = t5(storedHead);
    assert.ok(relDiff(h.forward(batch).logits.toFloat32(), ref) > 0.5, 'the stored head is used');
    // an LM checkpoint loaded as a classifier: modules under transformer., a seeded fresh head
    const c1 = t5(dir('model'), { task: 'sequence-classification', numLabels: 3, seed: 7 });
    const c2 = t5(dir('model'), { task: 'sequence-classification', numLabels: 3, seed: 7 });
    assert.ok(c1.linears()[0].name.startsWith('transformer.encoder.block.0'));
    const cb = openSafetensors(dir('cls.safetensors'));
    const b3 = { inputIds: get(cb, 'input_ids'), attentionMask: get(cb, 'attention_mask') };
    assert.deepEqual(c1.forward(b3).logits.toFloat32(), c2.forward(b3).logits.toFloat32());
    assert.deepEqual(c1.forward(b3).logits.shape, [3, 3]);
    for (const m of [u, s, h, c1, c2]) m.dispose();
  } finally {
    for (const d of [untied, scaled, storedHead]) fs.rmSync(d, { recursive: true, force: true });
  }
});

for (const proj of ['relu', 'gated-silu'] as const)
  test(`t5: ${proj} feed-forward — LoRA gradients equal finite differences`, { skip }, () => {
    const ck = new Checkpoint(dir('model_cls'));
    const cfg = JSON.parse(fs.readFileSync(dir('model_cls', 'config.json'), 'utf8'));
    const tensors: Record<string, Tensor> = {};
    for (const n of ck.names()) {
      if (proj === 'relu' && n.includes('wi_1')) continue;
      tensors[proj === 'relu' ? n.replace('wi_0', 'wi') : n] = ck.tensor(n);
    }
    const d = tmpdir();
    writeSafetensors(path.join(d, 'model.safetensors'), tensors);
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, feed_forward_proj: proj }));
    try {
      const m = t5(d);
      m.addLora({ r: 2, alpha: 4, seed: 3 });
      assert.equal(m.lora!.targetModules!.includes('wi'), proj === 'relu');
      // B is zero at PEFT init: give every B a value so A's gradients are non-zero too
      for (const p of m.trainableParameters())
        if (p.name.includes('lora_B'))
          p.param.copyFrom(
            Tensor.from(
              p.param.toFloat32().map((_, i) => 0.05 * Math.cos(i)),
              p.param.shape,
            ),
          );
      const cb = openSafetensors(dir('cls.safetensors'));
      const batch = { inputIds: get(cb, 'input_ids'), attentionMask: get(cb, 'attention_mask'), labels: get(cb, 'labels') };
      m.zeroGrad();
      m.forward(batch, { train: true });
      m.backward();
      const loss = () => m.forward(batch).loss!;
      for (const p of m
        .trainableParameters()
        .filter((q) => /encoder\.block\.0.*wi(_0)?\.lora_A|decoder\.block\.1.*EncDecAttention\.k\.lora_B|out_proj\.bias/.test(q.name))) {
        const x = p.param.toFloat32(),
          g = p.grad.toFloat32();
        for (const i of [0, Math.floor(x.length / 2), x.length - 1]) {
          const h = 1e-2,
            orig = x[i];
          x[i] = orig + h;
          p.param.copyFrom(Tensor.from(x, p.param.shape));
          const up = loss();
          x[i] = orig - h;
          p.param.copyFrom(Tensor.from(x, p.param.shape));
          const down = loss();
          x[i] = orig;
          p.param.copyFrom(Tensor.from(x, p.param.shape));
          const fd = (up - down) / (2 * h);
          assert.ok(Math.abs(fd - g[i]) <= 2e-3 * Math.max(1e-2, Math.abs(fd)) + 2e-4, `${p.name}[${i}]: ${g[i]} vs ${fd}`);
        }
      }
      m.dispose();
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

test('t5: classification inputs without EOS, or with different EOS counts, are clear errors', { skip }, () => {
  const m = t5(dir('model_cls'));
  throwsWith(
    () =>
      m.forward({
        inputIds: [
          [5, 6, 7],
          [8, 9, 10],
        ],
      }),
    ArgumentError,
    /must end with the EOS token \(id 1\)/,
  );
  throwsWith(
    () =>
      m.forward({
        inputIds: [
          [5, 6, 1],
          [1, 9, 1],
        ],
      }),
    ArgumentError,
    /same number of <eos> tokens.*\[1,2\]/,
  );
  throwsWith(() => t5(dir('model')).forward({ inputIds: [[5, 1]] }), ArgumentError, /decoderInputIds or labels/);
  m.dispose();
});

/** Bytes as tokens with T5's specials (pad 0, EOS 1 appended), for the fixture's 512-token vocabulary. */
class T5ByteTokenizer implements TextTokenizer {
  readonly padId = 0;
  readonly eosId = 1;
  readonly bosId = null;
  encode(text: string, o: { addSpecialTokens?: boolean } = {}): number[] {
    const b = Array.from(new TextEncoder().encode(text), (x) => x + 3);
    return (o.addSpecialTokens ?? true) ? [...b, 1] : b;
  }
  decode(ids: number[]): string {
    return new TextDecoder().decode(
      Uint8Array.from(
        ids.filter((i) => i >= 3 && i < 259),
        (i) => i - 3,
      ),
    );
  }
}

for (const setting of ['CLS-P', 'LM-P'] as const) {
  test(
    `t5: a ${setting} run on a prepared dataset trains (NF4 + LoRA), its loss falls, and it evaluates`,
    { skip, timeout: 180_000 },
    async () => {
      const root = tmpdir();
      try {
        const prepared = await prepareSynthetic(root);
        const out = path.join(root, 'run');
        const r = await runSetting({
          prepared,
          model: dir('model'),
          setting,
          out,
          tokenizer: new T5ByteTokenizer(),
          quantize: 'nf4',
          maxLength: 512,
          lora: { r: 8, alpha: 16, dropout: 0.05 },
          train: { lr: 5e-3, batchSize: 4, gradAccum: 2, epochs: 1, maxSteps: 6, evalBatchSize: 16, seed: 5 },
          limit: { train: 24, val: 8, test: 8 },
        });
        const h = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8')).history as { loss: number }[];
        assert.equal(h.length, 6);
        const first = (h[0].loss + h[1].loss) / 2,
          last = (h[4].loss + h[5].loss) / 2;
        assert.ok(last < first, `loss ${first.toFixed(4)} → ${last.toFixed(4)}`);
        assert.equal(r.rows, 8);
        const ac = JSON.parse(fs.readFileSync(path.join(out, 'best', 'adapter_config.json'), 'utf8'));
        assert.equal(ac.task_type, setting === 'CLS-P' ? 'SEQ_CLS' : 'CAUSAL_LM');
        if (setting === 'CLS-P') assert.deepEqual(ac.modules_to_save, ['classification_head', 'classifier', 'score']);
        const preds = fs
          .readFileSync(path.join(out, 'predictions.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        assert.equal(preds.length, 8);
        // evaluating the saved best/ again gives the same predictions
        const again = await runSetting({
          prepared,
          model: dir('model'),
          setting,
          out,
          tokenizer: new T5ByteTokenizer(),
          quantize: 'nf4',
          maxLength: 512,
          evalOnly: true,
          train: { evalBatchSize: 16, seed: 5 },
          limit: { train: 24, val: 8, test: 8 },
        });
        assert.equal(again.f1Macro, r.f1Macro);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    },
  );
}
