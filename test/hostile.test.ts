// Regression tests for the hostile-input findings of issue 12: each case that once killed the
// process, escaped its folder, hung, leaked a secret or failed without naming its file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  Tensor,
  quantizeNF4,
  ShapeError,
  ArgumentError,
  FormatError,
  ConfigError,
  PlfError,
  openSafetensors,
  readTensor,
  writeSafetensors,
  loadModel,
  Checkpoint,
  Tokenizer,
  ChatClient,
  EndpointError,
  readCustom,
  readExperimentConfig,
  loadPrepared,
} from '../lib/index.js';
import { dequantizeNF4 } from '../lib/ops/index.js';
import { geluForward } from '../lib/ops/index.js';
import { writeRandomLlama } from '../lib/models/random.js';
import { BudgetError } from '../lib/util/budget.js';
import { readParquet } from '../lib/data/parquet.js';
import { throwsWith, prepareSynthetic } from './helpers.js';

const tmp = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `plf-hostile-${name}-`));
const TINY = { hidden: 16, layers: 2, heads: 2, kvHeads: 1, intermediate: 24, vocab: 40 };

test('element counts that overflow are refused at creation, not by SIGSEGV/SIGABRT later', () => {
  throwsWith(() => Tensor.empty([2 ** 62]), ShapeError, /2\^48/);
  throwsWith(() => Tensor.empty([2 ** 61, 0], 'i64'), ShapeError, /2\^48/);
  throwsWith(() => Tensor.empty([2 ** 30, 2 ** 30]), ShapeError, /2\^48/);
  const x = Tensor.zeros([2, 3]);
  throwsWith(() => x.view([2 ** 40, 2 ** 40]), ShapeError);
  assert.equal(geluForward(x).numel, 6); // the process is still fine
});

test("NF4: quant_state values are validated (nested_blocksize 0 was a SIGFPE), in the op and in a checkpoint's quant_state", () => {
  const q = quantizeNF4(
    new Float32Array(512).map((_, i) => Math.sin(i)),
    [8, 64],
    { doubleQuant: true },
  );
  throwsWith(() => dequantizeNF4({ ...q, nestedBlocksize: 0 }), ArgumentError, /nestedBlocksize/);
  throwsWith(() => dequantizeNF4({ ...q, blocksize: 0 }), ArgumentError, /blocksize/);
  throwsWith(() => dequantizeNF4({ ...q, blocksize: NaN }), ArgumentError, /blocksize/);
  const dir = tmp('nf4');
  const state = (o: object) =>
    Tensor.from(
      Buffer.from(
        JSON.stringify({
          quant_type: 'nf4',
          blocksize: 64,
          dtype: 'float32',
          shape: [8, 64],
          nested_blocksize: 256,
          nested_offset: q.offset,
          ...o,
        }),
      ),
      undefined,
      { dtype: 'u8' },
    );
  const save = (o: object) =>
    writeSafetensors(path.join(dir, 'model.safetensors'), {
      'w.weight': q.weight,
      'w.weight.absmax': q.absmax,
      'w.weight.quant_map': q.quantMap,
      'w.weight.nested_absmax': q.nestedAbsmax!,
      'w.weight.nested_quant_map': q.nestedQuantMap!,
      'w.weight.quant_state.bitsandbytes__nf4': state(o),
    });
  save({});
  assert.deepEqual(dequantizeNF4(new Checkpoint(dir).nf4('w.weight')).toArray(), dequantizeNF4(q).toArray());
  save({ nested_blocksize: 0 });
  throwsWith(() => new Checkpoint(dir).nf4('w.weight'), FormatError, /nested_blocksize/, new RegExp(dir));
  save({ shape: [16, 64] });
  throwsWith(() => new Checkpoint(dir).nf4('w.weight'), FormatError, /needs 512/, new RegExp(dir));
});

test('a tensor of 2 GiB and more is read (in chunks), and chunked reads equal one read', { timeout: 120_000 }, () => {
  const dir = tmp('big');
  const small = path.join(dir, 'small.safetensors');
  writeSafetensors(small, {
    a: Tensor.from(
      Float32Array.from({ length: 1001 }, (_, i) => i * 0.5),
      [7, 143],
    ),
  });
  const f = openSafetensors(small);
  assert.deepEqual(readTensor(f, 'a', 7).toArray(), readTensor(f, 'a').toArray());
  // a sparse file: header for u8 [2^31 + 8], data all zeros except the last byte
  const n = 2 ** 31 + 8;
  const big = path.join(dir, 'big.safetensors');
  const header = Buffer.from(JSON.stringify({ x: { dtype: 'U8', shape: [n], data_offsets: [0, n] } }).padEnd(64));
  const fd = fs.openSync(big, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  fs.writeSync(fd, len, 0, 8, 0);
  fs.writeSync(fd, header, 0, header.length, 8);
  fs.writeSync(fd, Buffer.from([7]), 0, 1, 8 + header.length + n - 1);
  fs.closeSync(fd);
  const t = readTensor(openSafetensors(big), 'x');
  assert.equal(t.numel, n);
  const tail = t.view([8], n - 8).toArray() as Uint8Array;
  assert.deepEqual([...tail], [0, 0, 0, 0, 0, 0, 0, 7]);
  t.dispose();
  fs.truncateSync(big, 8 + header.length + n - 5);
  throwsWith(() => openSafetensors(big), FormatError, /truncated/, new RegExp(big));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('configs and adapters that contradict the weights are refused before allocation, naming the file', () => {
  const dir = tmp('cfg');
  writeRandomLlama(dir, TINY, { seed: 1 });
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const withCfg = (o: object | null) =>
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(o === null ? null : { ...cfg, ...o }));
  for (const [o, re] of [
    [{ num_hidden_layers: 0 }, /num_hidden_layers/],
    [{ vocab_size: -1 }, /vocab_size/],
    [{ num_labels: 1e9 }, /num_labels/],
    [{ num_hidden_layers: 1 }, /holds 2 layers/],
    [{ vocab_size: 41 }, /vocab_size 41/],
    [{ num_key_value_heads: 2 }, /k_proj/],
    [null, /JSON object/],
  ] as const) {
    withCfg(o);
    assert.throws(
      () => loadModel(dir, { task: 'sequence-classification' }),
      (e: Error) => e instanceof PlfError && re.test(e.message) && e.message.includes(dir),
      String(re),
    );
  }
  withCfg({});
  const m = loadModel(dir, {});
  m.addLora({ r: 2, alpha: 4, dropout: 0 });
  const ad = path.join(dir, 'adapter');
  m.saveAdapter(ad);
  m.dispose();
  const acfg = JSON.parse(fs.readFileSync(path.join(ad, 'adapter_config.json'), 'utf8'));
  for (const [o, re] of [
    [{ r: 1000000 }, /r must be/],
    [{ r: 3 }, /says r = 3/],
    [{ lora_dropout: 2 }, /lora_dropout/],
    [{ target_modules: [] }, /no module/],
  ] as const) {
    fs.writeFileSync(path.join(ad, 'adapter_config.json'), JSON.stringify({ ...acfg, ...o }));
    const before = process.memoryUsage().rss;
    const fresh = loadModel(dir, {});
    assert.throws(
      () => fresh.loadAdapter(ad),
      (e: Error) => e instanceof PlfError && re.test(e.message) && e.message.includes(ad),
      String(re),
    );
    assert.ok(process.memoryUsage().rss - before < 500e6, 'nothing large was allocated');
    fresh.dispose();
  }
  // an I64 tensor where f32 is expected: a FormatError naming the file, not a BigInt TypeError
  writeSafetensors(
    path.join(ad, 'adapter_model.safetensors'),
    Object.fromEntries(
      [...openSafetensors(path.join(ad, 'adapter_model.safetensors')).tensors].map(([k, e]) => [k, Tensor.zeros(e.shape, 'i64')]),
    ),
  );
  fs.writeFileSync(path.join(ad, 'adapter_config.json'), JSON.stringify(acfg));
  const fresh = loadModel(dir, {});
  throwsWith(() => fresh.loadAdapter(ad), FormatError, /i64/, new RegExp(ad));
  fresh.dispose();
});

test('paths from files stay inside their folder: shard names and experiment run names', () => {
  const dir = tmp('paths');
  writeRandomLlama(dir, TINY, { seed: 1 });
  fs.renameSync(path.join(dir, 'model.safetensors'), path.join(dir, 'shard.safetensors'));
  const names = Object.keys(Object.fromEntries(openSafetensors(path.join(dir, 'shard.safetensors')).tensors));
  for (const bad of ['../../../../etc/passwd', '/etc/passwd', 'a\u0000b']) {
    fs.writeFileSync(
      path.join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { ...Object.fromEntries(names.map((n) => [n, 'shard.safetensors'])), [names[0]]: bad } }),
    );
    assert.throws(
      () => loadModel(dir, {}),
      (e: Error) => e instanceof FormatError && e.message.includes(dir) && !/root:/.test(e.message),
    );
  }
  const cfg = path.join(dir, 'exp.json');
  for (const name of ['../../../x', '..', 'a/b', '']) {
    fs.writeFileSync(
      cfg,
      JSON.stringify({ out: 'o', datasets: [{ name, prepared: 'p' }], models: [{ name: 'm', path: 'm' }], settings: ['CLS'] }),
    );
    throwsWith(() => readExperimentConfig(cfg), ConfigError, /plain name/, new RegExp(cfg));
  }
  fs.writeFileSync(
    cfg,
    JSON.stringify({
      out: 'o',
      datasets: [{ name: 'd', prepared: 'p' }],
      models: [{ name: 'm', path: 'm', settings: ['../x'] }],
      settings: ['CLS'],
    }),
  );
  throwsWith(() => readExperimentConfig(cfg), ConfigError, /unknown setting/);
});

test('tokenizer files: a catastrophic regex is refused at load, a runaway chat template stops at its budget, library errors name the file', () => {
  const dir = tmp('tok');
  const tj = {
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    post_processor: null,
    decoder: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: { '[UNK]': 0, a: 1 },
    },
  };
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
  const t0 = Date.now();
  throwsWith(() => new Tokenizer(dir), FormatError, /nests unbounded quantifiers/, new RegExp(dir));
  assert.ok(Date.now() - t0 < 1000);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({ ...tj, model: undefined }));
  throwsWith(() => new Tokenizer(dir), FormatError, new RegExp(`${dir}/tokenizer.json`));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({ ...tj, pre_tokenizer: { type: 'Whitespace' } }));
  fs.writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify({ chat_template: '{% for i in range(100000000) %}x{% endfor %}' }),
  );
  const tok = new Tokenizer(dir);
  const t1 = Date.now();
  throwsWith(() => tok.applyChatTemplate([{ role: 'user', content: 'a' }]), BudgetError, /budget/, /tokenizer_config\.json/);
  assert.ok(Date.now() - t1 < 3000, 'stopped at its budget');
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), '{"chat_template": ');
  throwsWith(() => new Tokenizer(dir), FormatError, /tokenizer_config\.json/);
});

test('data files: invalid UTF-8 is an error naming file and line (or replaced on request); damaged parquet rows fail the manifest checksum', async () => {
  const dir = tmp('data');
  const csv = path.join(dir, 'raw.csv');
  fs.writeFileSync(
    csv,
    Buffer.concat([Buffer.from('id,annotator,text,labels\n1,a,fine,joy\n2,b,bad '), Buffer.from([0xff, 0xfe]), Buffer.from(' text,joy\n')]),
  );
  const map = { text: 'text', annotator: 'annotator', item: 'id', labelList: 'labels', labelNames: ['joy'] };
  await assert.rejects(
    readCustom('x', [csv], map),
    (e: Error) => e instanceof FormatError && e.message.startsWith(`${csv}:3: invalid UTF-8`),
  );
  const ok = await readCustom('x', [csv], map, { encodingErrors: 'replace' });
  assert.equal(ok.rows[1].text, 'bad \uFFFD\uFFFD text');
  const prepared = await prepareSynthetic(path.join(dir, 'p'));
  await loadPrepared(prepared);
  const train = path.join(prepared, 'train.parquet');
  const b = fs.readFileSync(train);
  const at = b.indexOf(Buffer.from(String((await readParquet(train))[0].text)));
  assert.ok(at > 0);
  b[at] ^= 0x20; // one letter of one row's text changed: still a readable parquet file
  fs.writeFileSync(train, b);
  await assert.rejects(loadPrepared(prepared), (e: Error) => e instanceof FormatError && e.message.includes(train));
  fs.writeFileSync(train, 'PAR1 not really');
  await assert.rejects(readParquet(train), (e: Error) => e instanceof FormatError && e.message.includes(train));
});

test('the OpenAI client redacts secrets from every message and caps Retry-After by its timeout', async () => {
  const key = 'sk-live-1234567890abcdef';
  let n = 0;
  const s = http.createServer((req, res) => {
    n++;
    if (req.url?.includes('slow')) {
      res.writeHead(429, { 'retry-after': '3600' });
      res.end('slow down');
      return;
    }
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `invalid key ${key}; header was ${req.headers.authorization}` }));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  try {
    const c = new ChatClient({ endpoint: `http://127.0.0.1:${port}/v1?api_key=${key}`, model: 'm', apiKey: key, retries: 0 });
    await assert.rejects(
      c.complete('x'),
      (e: Error) => e instanceof EndpointError && !e.message.includes(key) && !e.message.includes('1234567890') && /401/.test(e.message),
    );
    const t0 = Date.now();
    const slow = new ChatClient({
      endpoint: `http://127.0.0.1:${port}/slow/v1?api_key=${key}`,
      model: 'm',
      retries: 2,
      timeoutMs: 300,
      backoffMs: 10,
    });
    await assert.rejects(slow.complete('x'), (e: Error) => e instanceof EndpointError && /429/.test(e.message) && !e.message.includes(key));
    assert.ok(Date.now() - t0 < 5000, `Retry-After 3600 s was capped (took ${Date.now() - t0} ms)`);
  } finally {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  assert.ok(n >= 4);
});
