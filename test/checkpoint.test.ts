// HF folders beyond the basic fixture: bitsandbytes 4-bit checkpoints, shards, tied heads,
// bf16/f16 storage, transformers 4.x configs, LoRA init.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type DecoderModel,
  loadModel,
  quantizeCheckpoint,
  parseConfig,
  Checkpoint,
  writeSafetensors,
  Tensor,
  openSafetensors,
  readTensor,
  ConfigError,
  FormatError,
} from '../lib/index.js';
import { isNF4 } from '../lib/ops/index.js';
import { relDiff, sharedPath, skipMessage, throwsWith } from './helpers.js';

const fixtures = sharedPath('fixtures/hf');
const skip = fixtures ? false : skipMessage('fixtures/hf');
const LLAMA = path.join(fixtures ?? '', 'llama');
const tmpdir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'plf-ck-'));

function lmBatch(arch = LLAMA) {
  const f = openSafetensors(path.join(arch, 'lm.safetensors'));
  return { inputIds: readTensor(f, 'input_ids'), attentionMask: readTensor(f, 'attention_mask') };
}

test('quantizeCheckpoint writes a bitsandbytes 4-bit checkpoint that loads as NF4 with the same logits', { skip }, () => {
  for (const arch of ['llama', 'gpt_neox']) {
    const src = path.join(fixtures!, arch, 'model'),
      out = tmpdir();
    try {
      const r = quantizeCheckpoint(src, out);
      assert.ok(r.quantized > 0);
      const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
      assert.equal(cfg.quantization_config.load_in_4bit, true);
      assert.equal(cfg.quantization_config.bnb_4bit_quant_type, 'nf4');
      const ck = new Checkpoint(out);
      const qname = ck.names().find((n) => n.endsWith('.quant_state.bitsandbytes__nf4'))!;
      assert.match(Buffer.from(ck.bytes(qname)).toString('utf8'), /^\{"quant_type": "nf4", "blocksize": 64/);
      const pre = loadModel(out),
        onLoad = loadModel(src, { quantize: 'nf4' });
      assert.ok(
        pre.linears().every((l) => isNF4(l.weight)),
        'every layer linear is NF4',
      );
      const batch = lmBatch(path.join(fixtures!, arch));
      assert.deepEqual(pre.forward(batch).logits.toArray(), onLoad.forward(batch).logits.toArray());
      // the quantized bytes equal what quantization at load produces
      const a = pre.linears()[0].weight,
        b = onLoad.linears()[0].weight;
      if (isNF4(a) && isNF4(b)) assert.deepEqual(a.weight.toArray(), b.weight.toArray());
      pre.dispose();
      onLoad.dispose();
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }
});

test('sharded checkpoints, tied embeddings and bf16 storage load', { skip }, () => {
  const src = path.join(LLAMA, 'model');
  const ck = new Checkpoint(src);
  const names = ck.names();
  const base = loadModel(src);
  const batch = lmBatch();
  const ref = base.forward(batch).logits.toFloat32();
  const out = tmpdir();
  try {
    // two shards + index
    const half = Math.ceil(names.length / 2),
      map: Record<string, string> = {};
    [names.slice(0, half), names.slice(half)].forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(path.join(out, file), Object.fromEntries(part.map((n) => [n, ck.tensor(n)])));
      part.forEach((n) => (map[n] = file));
    });
    fs.writeFileSync(path.join(out, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
    fs.copyFileSync(path.join(src, 'config.json'), path.join(out, 'config.json'));
    const sharded = loadModel(out);
    assert.deepEqual(sharded.forward(batch).logits.toFloat32(), ref);
    // tied: no lm_head tensor, tie_word_embeddings true → the head is the embedding matrix
    const tied = tmpdir();
    const cfg = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8'));
    writeSafetensors(
      path.join(tied, 'model.safetensors'),
      Object.fromEntries(names.filter((n) => n !== 'lm_head.weight').map((n) => [n, ck.tensor(n)])),
    );
    fs.writeFileSync(path.join(tied, 'config.json'), JSON.stringify({ ...cfg, tie_word_embeddings: true }));
    const tm = loadModel(tied) as DecoderModel;
    assert.equal(tm.head.weight, tm.embed, 'the head shares the embedding tensor');
    const untiedSame = tmpdir();
    writeSafetensors(
      path.join(untiedSame, 'model.safetensors'),
      Object.fromEntries(names.map((n) => [n, ck.tensor(n === 'lm_head.weight' ? 'model.embed_tokens.weight' : n)])),
    );
    fs.copyFileSync(path.join(src, 'config.json'), path.join(untiedSame, 'config.json'));
    assert.deepEqual(tm.forward(batch).logits.toFloat32(), loadModel(untiedSame).forward(batch).logits.toFloat32());
    fs.writeFileSync(path.join(tied, 'config.json'), JSON.stringify({ ...cfg, tie_word_embeddings: false }));
    throwsWith(() => loadModel(tied), ConfigError, /lm_head\.weight/, /tie_word_embeddings/);
    // bf16 storage: logits close to f32 (bf16 rounding of the weights)
    const bf = tmpdir();
    writeSafetensors(
      path.join(bf, 'model.safetensors'),
      Object.fromEntries(
        names.map((n) => {
          const t = ck.tensor(n);
          return [n, Tensor.from(t.toFloat32(), t.shape, { dtype: 'bf16' })];
        }),
      ),
    );
    fs.copyFileSync(path.join(src, 'config.json'), path.join(bf, 'config.json'));
    const bm = loadModel(bf);
    assert.equal(bm.linears()[0].weight.dtype, 'bf16', 'layer weights stay bf16');
    const d = relDiff(bm.forward(batch).logits.toFloat32(), ref);
    assert.ok(d > 0 && d < 3e-2, `bf16 logits within bf16 rounding: ${d}`);
    for (const p of [tied, untiedSame, bf]) fs.rmSync(p, { recursive: true, force: true });
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('transformers 4.x configs (rope_theta at top level) parse like 5.x ones', (t) => {
  const dir = sharedPath('fixtures/configs');
  if (!dir) return t.skip(skipMessage('fixtures/configs'));
  const mistral = parseConfig(JSON.parse(fs.readFileSync(path.join(dir, 'mistral-7b-v0.1.config.json'), 'utf8')));
  assert.equal(mistral.ropeTheta, 10000);
  assert.equal(mistral.slidingWindow, 4096);
  assert.equal(mistral.kvHeads, 8);
  assert.equal(mistral.headDim, 128);
  assert.equal(mistral.rotaryDim, 128);
  const tl = parseConfig(JSON.parse(fs.readFileSync(path.join(dir, 'tinyllama-1.1b-chat.config.json'), 'utf8')));
  assert.equal(tl.layers, 22);
  assert.equal(tl.headDim, 64);
  const v5 = parseConfig({
    ...JSON.parse(fs.readFileSync(path.join(dir, 'tinyllama-1.1b-chat.config.json'), 'utf8')),
    rope_theta: undefined,
    rope_parameters: { rope_theta: 500000, rope_type: 'default' },
  });
  assert.equal(v5.ropeTheta, 500000);
  const neox = parseConfig({
    model_type: 'gpt_neox',
    hidden_size: 64,
    num_attention_heads: 4,
    num_hidden_layers: 1,
    vocab_size: 10,
    intermediate_size: 8,
    layer_norm_eps: 1e-5,
    rotary_pct: 0.25,
    rotary_emb_base: 10000,
  });
  assert.equal(neox.rotaryDim, 4);
  assert.equal(neox.parallelResidual, true);
  throwsWith(() => parseConfig({ model_type: 'llama', hidden_size: 8 }), ConfigError, /num_attention_heads/);
  throwsWith(() => parseConfig({ model_type: 'llama', rope_parameters: { rope_type: 'yarn' } }), ConfigError, /yarn/);
});

test('addLora uses PEFT init: A ~ U(±1/√in), B = 0, scale alpha/r or alpha/√r', { skip }, () => {
  const m = loadModel(path.join(LLAMA, 'model'));
  m.addLora({ r: 8, alpha: 32, dropout: 0.05 });
  const lin = m.linears()[0];
  const A = lin.lora!.A.toFloat32(),
    bound = 1 / Math.sqrt(lin.inFeatures);
  assert.ok(A.every((v) => Math.abs(v) <= bound) && A.some((v) => Math.abs(v) > bound * 0.9));
  assert.ok(lin.lora!.B.toFloat32().every((v) => v === 0));
  assert.equal(lin.lora!.scale, 4);
  assert.equal(m.trainableParameters().length, 2 * m.linears().length);
  const batch = lmBatch();
  assert.deepEqual(
    m.forward(batch).logits.toFloat32(),
    loadModel(path.join(LLAMA, 'model')).forward(batch).logits.toFloat32(),
    'B = 0: the adapter starts as the identity',
  );
  const rs = loadModel(path.join(LLAMA, 'model'));
  rs.addLora({ r: 16, alpha: 32, useRslora: true, targetModules: ['q_proj', 'v_proj'] });
  assert.equal(rs.linears().filter((l) => l.lora).length, 2 * rs.config.layers);
  assert.equal(rs.linears().find((l) => l.lora)!.lora!.scale, 8);
  throwsWith(() => rs.addLora({ r: 2, alpha: 2 }), ConfigError, /already/);
});

test('broken checkpoints are FormatErrors naming the file', { skip }, () => {
  const out = tmpdir();
  try {
    fs.copyFileSync(path.join(LLAMA, 'model', 'config.json'), path.join(out, 'config.json'));
    throwsWith(() => loadModel(out), FormatError, /no model\.safetensors/);
    const good = fs.readFileSync(path.join(LLAMA, 'model', 'model.safetensors'));
    fs.writeFileSync(path.join(out, 'model.safetensors'), good.subarray(0, good.length - 100));
    throwsWith(() => loadModel(out), FormatError, /model\.safetensors/, /truncated/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('trainAll: weight and embedding gradients match finite differences; saveWeights reloads identically', { skip }, () => {
  const m = loadModel(path.join(LLAMA, 'model'));
  m.trainAll();
  const params = m.trainableParameters();
  assert.ok(params.some((p) => p.name === 'model.embed_tokens.weight') && params.some((p) => p.name === 'lm_head.weight'));
  const f = openSafetensors(path.join(LLAMA, 'lora_lm', 'grads.safetensors'));
  const batch = {
    inputIds: readTensor(f, 'input.input_ids'),
    attentionMask: readTensor(f, 'input.attention_mask'),
    labels: readTensor(f, 'input.labels'),
  };
  m.zeroGrad();
  m.forward(batch, { train: true });
  m.backward();
  const loss = () => m.forward(batch).loss!;
  for (const name of [
    'model.embed_tokens.weight',
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.1.mlp.down_proj.weight',
    'lm_head.weight',
  ]) {
    const p = params.find((x) => x.name === name)!;
    const g = p.grad.toFloat32(),
      w = p.param.toFloat32();
    let at = 0;
    for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[at])) at = i; // the largest entry: well above f32 noise
    const h = 1e-2,
      orig = w[at];
    const set = (v: number) => {
      w[at] = v;
      p.param.copyFrom(Tensor.from(w, p.param.shape));
    };
    set(orig + h);
    const lp = loss();
    set(orig - h);
    const lm = loss();
    set(orig);
    const fd = (lp - lm) / (2 * h);
    assert.ok(Math.abs(fd - g[at]) / Math.abs(g[at]) < 3e-2, `${name}[${at}]: analytic ${g[at]} vs finite difference ${fd}`);
  }
  const out = tmpdir();
  try {
    m.saveWeights(out);
    const again = loadModel(out);
    const b = { inputIds: batch.inputIds, attentionMask: batch.attentionMask };
    assert.deepEqual(again.forward(b).logits.toArray(), m.forward(b).logits.toArray());
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
