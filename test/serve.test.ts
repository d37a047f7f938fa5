// plf-native serve (issue 14) with the official `openai` npm client on loopback: the models
// list, chat completions (plain and streamed) and the moderation-shaped classification, each
// equal to evaluation's predictions for the same rows; two runs on one shared base in a mixed
// burst; 400/401/404/413/429 in OpenAI's error shape; /health during a long generation; a
// dropped stream cancels its generation; `query --endpoint` against our server equals the local
// Q-0S evaluation of the base; the library's classify/generate with an AbortSignal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { ByteTokenizer, createServer, runQuery, ServeError, type PlfServer, type Prediction } from '../lib/index.js';
import { runSetting } from '../lib/experiments/run.js';
import { maxNewTokensFor } from '../lib/eval/evaluate.js';
import { readRunInfo } from '../lib/experiments/run-info.js';
import { sharedPath, skipMessage, prepareSynthetic } from './helpers.js';

const model = sharedPath('fixtures/hf/llama/model');
const skip = model ? false : skipMessage('fixtures/hf/llama/model');
const KEY = 'test-key-0123456789';

let root = '';
let prepared = '';
let srv: PlfServer;
let url = '';
let client: OpenAI;
const preds: Record<string, Prediction[]> = {};

const readPreds = (dir: string): Prediction[] =>
  fs
    .readFileSync(path.join(dir, 'predictions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

before(
  async () => {
    if (skip) return;
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-serve-'));
    prepared = await prepareSynthetic(root);
    const common = {
      prepared,
      model: model!,
      modelName: 'llama-fixture',
      tokenizer: new ByteTokenizer(),
      quantize: 'nf4' as const,
      maxLength: 1024,
      limit: { train: 16, val: 4, test: 6 },
    };
    const runs = [
      ['cls', 'CLS-P', 1, 5e-3, 16],
      ['lmA', 'LM-P', 1, 1e-2, 16],
      ['lmB', 'LM-P', 7, 5e-2, 64],
      ['q0', 'Q-0S', 1, 1e-4, 16],
    ] as const;
    for (const [name, setting, seed, lr, alpha] of runs) {
      const out = path.join(root, name);
      await runSetting({
        ...common,
        setting,
        out,
        lora: { r: 4, alpha, dropout: 0, seed },
        train: { maxSteps: 3, batchSize: 4, gradAccum: 1, evalBatchSize: 3, lr, seed, warmupRatio: 0 },
      });
      preds[name] = readPreds(out);
    }
    srv = await createServer({ runs: ['cls', 'lmA', 'lmB'].map((n) => `${n}=${path.join(root, n)}`), apiKey: KEY, maxBatch: 8 });
    const s = await srv.listen(0);
    url = `http://127.0.0.1:${(s.address() as { port: number }).port}`;
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 });
  },
  { timeout: 300_000 },
);

after(async () => {
  await srv?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const chat = (m: string, p: Prediction, extra: Record<string, unknown> = {}) =>
  client.chat.completions.create({
    model: m,
    messages: [{ role: 'user', content: p.text }],
    user: p.user,
    ...extra,
  } as never) as unknown as Promise<OpenAI.Chat.ChatCompletion & { labels: string[] }>;

test('GET /v1/models lists each run and the base they share', { skip }, async () => {
  const list = await client.models.list();
  const ids = list.data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['cls', 'llama-fixture', 'lmA', 'lmB']);
  const cls = list.data.find((m) => m.id === 'cls') as unknown as { endpoint: string; labels: string[]; needs_user: boolean };
  assert.equal(cls.endpoint, '/v1/moderations');
  assert.deepEqual(cls.labels, readRunInfo(path.join(root, 'cls')).template.labels);
  assert.equal(cls.needs_user, true);
});

test('chat completions of an LM-P run equal its evaluation, plain and streamed', { skip, timeout: 120_000 }, async () => {
  for (const p of preds.lmA) {
    const r = await chat('lmA', p);
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.content, p.response, `row of ${p.user}: the served answer is evaluation's`);
    assert.deepEqual(r.labels, p.predicted);
    assert.ok(r.usage!.prompt_tokens > 0 && r.usage!.completion_tokens > 0);
  }
  const p = preds.lmA[0];
  const stream = await client.chat.completions.create({
    model: 'lmA',
    messages: [{ role: 'user', content: p.text }],
    user: p.user,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '',
    finish: string | null = null,
    chunks = 0,
    usage = 0;
  for await (const c of stream) {
    chunks++;
    if (c.usage) usage = c.usage.completion_tokens;
    const ch = c.choices[0];
    if (!ch) continue;
    text += ch.delta.content ?? '';
    finish = ch.finish_reason ?? finish;
  }
  assert.equal(text, p.response);
  assert.ok(chunks > 3, `streamed in ${chunks} chunks`);
  assert.ok(finish === 'stop' || finish === 'length');
  assert.ok(usage > 0);
});

test('/v1/moderations classifies for a CLS-P run as evaluation does', { skip, timeout: 60_000 }, async () => {
  const labels = readRunInfo(path.join(root, 'cls')).template.labels;
  for (const p of preds.cls) {
    const r = await client.moderations.create({ model: 'cls', input: p.text, user: p.user } as never);
    const res = r.results[0] as unknown as {
      flagged: boolean;
      categories: Record<string, boolean>;
      category_scores: Record<string, number>;
    };
    assert.deepEqual(Object.keys(res.categories), labels);
    assert.deepEqual(
      labels.filter((l) => res.categories[l]),
      p.predicted,
    );
    assert.equal(res.flagged, p.predicted.length > 0);
    for (const l of labels) assert.equal(res.category_scores[l] > 0.5, res.categories[l]);
  }
  // several inputs of one annotator in one request
  const same = preds.cls.filter((p) => p.user === preds.cls[0].user);
  const r = await client.moderations.create({ model: 'cls', input: same.map((p) => p.text), user: same[0].user } as never);
  assert.deepEqual(
    r.results.map((x) => labels.filter((l) => (x.categories as unknown as Record<string, boolean>)[l])),
    same.map((p) => p.predicted),
  );
});

test('two runs on one base answer for themselves in a mixed burst', { skip, timeout: 120_000 }, async () => {
  assert.ok(
    preds.lmA.some((p, i) => p.response !== preds.lmB[i].response),
    'precondition: the two adapters answer differently somewhere',
  );
  const before = srv.metrics();
  const jobs = preds.lmA.flatMap((p, i) => [
    chat('lmA', p).then((r) => assert.equal(r.choices[0].message.content, p.response)),
    chat('lmB', preds.lmB[i]).then((r) => assert.equal(r.choices[0].message.content, preds.lmB[i].response)),
    client.moderations
      .create({ model: 'cls', input: preds.cls[i].text, user: preds.cls[i].user } as never)
      .then((r) => assert.equal(r.results[0].flagged, preds.cls[i].predicted.length > 0)),
  ]);
  await Promise.all(jobs);
  // some of them went through one forward pass together
  const bucket1 = (t: string) => Number(/plf_batch_size_bucket\{kind="generate",le="1"\} (\d+)/.exec(t)?.[1] ?? 0);
  const count = (t: string) => Number(/plf_batch_size_count\{kind="generate"\} (\d+)/.exec(t)?.[1] ?? 0);
  const after = srv.metrics();
  assert.ok(count(after) - count(before) < 2 * preds.lmA.length, 'fewer generation batches than requests');
  assert.ok(count(after) - count(before) - (bucket1(after) - bucket1(before)) > 0, 'a batch of more than one row');
});

test('errors in OpenAI shape: 401, 404, 400 (no user, too long, bad JSON), 413', { skip, timeout: 60_000 }, async () => {
  const p = preds.lmA[0];
  const wrong = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'not-the-key', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  const noKey = await fetch(`${url}/v1/models`);
  assert.equal(noKey.status, 401);
  assert.equal(((await noKey.json()) as { error: { code: string } }).error.code, 'invalid_api_key');
  await assert.rejects(
    chat('no-such-run', p),
    (e: unknown) => e instanceof OpenAI.NotFoundError && /no-such-run/.test((e as Error).message),
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'lmA', messages: [{ role: 'user', content: p.text }] }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && (e as InstanceType<typeof OpenAI.APIError>).param === 'user',
  );
  await assert.rejects(
    chat('lmA', { ...p, text: 'x'.repeat(2000) }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /at most 1024/.test((e as Error).message),
  );
  await assert.rejects(
    client.moderations.create({ model: 'lmA', input: 'hi', user: 'u' } as never),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /chat\/completions/.test((e as Error).message),
  );
  const post = (body: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    });
  const badJson = await post('{"model": "lmA", ');
  assert.equal(badJson.status, 400);
  const e = ((await badJson.json()) as { error: Record<string, unknown> }).error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(e.type, 'invalid_request_error');
  const big = await post(JSON.stringify({ model: 'lmA', messages: [{ role: 'user', content: 'y'.repeat(1.5 * 2 ** 20) }] }));
  assert.equal(big.status, 413);
  assert.equal((await fetch(`${url}/nope`)).status, 404);
});

test(
  '429 with Retry-After when the queue is full; /health answers during a long generation; a dropped stream stops',
  { skip, timeout: 120_000 },
  async () => {
    const small = await createServer({ base: model!, baseName: 'base', tokenizer: 'byte', maxBatch: 1, maxQueue: 1 });
    try {
      const s = await small.listen(0);
      const base = `http://127.0.0.1:${(s.address() as { port: number }).port}`;
      const c = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
      const long = { model: 'base', messages: [{ role: 'user' as const, content: 'Once upon a time' }], max_tokens: 300 };
      // precondition: greedy decoding of this prompt runs 300 tokens without EOS
      const full = await c.chat.completions.create(long);
      assert.equal(full.choices[0].finish_reason, 'length');
      const running = c.chat.completions.create(long);
      await new Promise((r) => setTimeout(r, 20));
      const t0 = performance.now();
      const h = await fetch(`${base}/health`);
      const ms = performance.now() - t0;
      assert.equal(h.status, 200);
      assert.equal(((await h.json()) as { running: number }).running, 1, 'the generation was running');
      assert.ok(ms < 100, `/health took ${ms.toFixed(1)} ms during a generation`);
      await assert.rejects(c.chat.completions.create(long), (e: unknown) => {
        assert.ok(e instanceof OpenAI.RateLimitError);
        assert.equal((e as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after'), '1');
        return true;
      });
      assert.equal((await running).choices[0].message.content, full.choices[0].message.content);
      // a client that drops a stream stops its generation (fewer tokens than the 300 it would make)
      const tokens = () => Number(/plf_generated_tokens_total (\d+)/.exec(small.metrics())?.[1] ?? 0);
      const t1 = tokens();
      const ctl = new AbortController();
      const stream = await c.chat.completions.create({ ...long, max_tokens: 4000, stream: true }, { signal: ctl.signal });
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) break; // the first text, then go away
      ctl.abort();
      for (let i = 0; i < 200 && !/plf_inflight_rows 0/.test(small.metrics()); i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
      assert.match(small.metrics(), /plf_inflight_rows 0/);
      assert.ok(tokens() - t1 < 300, `the dropped stream made ${tokens() - t1} tokens`);
    } finally {
      await small.close();
    }
  },
);

test('library classify/generate: the same answers, AbortSignal, typed errors', { skip, timeout: 60_000 }, async () => {
  const p = preds.cls[0];
  const [r] = await srv.classify('cls', p.text, { user: p.user });
  assert.deepEqual(r.labels, p.predicted);
  const q = preds.lmB[0];
  let streamed = '';
  const g = await srv.generate('lmB', q.text, { user: q.user, onText: (d) => (streamed += d) });
  assert.equal(g.text, q.response);
  assert.equal(streamed, q.response);
  assert.deepEqual(g.labels, q.predicted);
  await assert.rejects(srv.generate('lmB', q.text), (e: unknown) => e instanceof ServeError && e.status === 400);
  await assert.rejects(
    srv.generate('cls', q.text, { user: 'u' }),
    (e: unknown) => e instanceof ServeError && /moderations/.test((e as Error).message),
  );
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(
    srv.generate('lmB', q.text, { user: q.user, signal: ctl.signal }),
    (e: unknown) => (e as Error).name === 'AbortError' || e instanceof ServeError,
  );
});

test('query --endpoint against our server equals the local Q-0S evaluation of the base', { skip, timeout: 120_000 }, async () => {
  const out = path.join(root, 'q0-endpoint');
  const tok = new ByteTokenizer();
  const spec = readRunInfo(path.join(root, 'cls')).template;
  const r = await runQuery({
    prepared,
    setting: 'Q-0S',
    out,
    endpoint: `${url}/v1`,
    model: 'llama-fixture',
    apiKeyEnv: 'PLF_TEST_SERVE_KEY',
    maxTokens: maxNewTokensFor(spec, tok),
    limit: 6,
    ...((process.env.PLF_TEST_SERVE_KEY = KEY), {}),
  });
  const local = JSON.parse(fs.readFileSync(path.join(root, 'q0', 'metrics.json'), 'utf8'));
  assert.equal(r.rows, local.rows);
  assert.deepEqual(
    readPreds(out).map((p) => p.response),
    preds.q0.map((p) => p.response),
  );
  for (const k of ['f1Macro', 'f1Micro', 'subsetAccuracy'] as const) assert.equal(r[k], local[k], k);
});

test(
  'plf-native serve: one command serves a run; SIGTERM finishes the request in flight, then exits 0',
  { skip, timeout: 120_000 },
  async () => {
    const { spawn } = await import('node:child_process');
    const bin = path.resolve('dist', 'bin', 'plf-native.js');
    const child = spawn(
      process.execPath,
      [bin, 'serve', '--run', `lmA=${path.join(root, 'lmA')}`, '--port', '0', '--api-key-env', 'PLF_TEST_SERVE_KEY'],
      {
        env: { ...process.env, PLF_TEST_SERVE_KEY: KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 600 && !/\/v1 — /.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      const base = /(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out)?.[1];
      assert.ok(base, `the server printed its URL (stdout: ${out}, stderr: ${err})`);
      assert.ok(!out.includes(KEY) && !err.includes(KEY), 'the key is never printed');
      const c = new OpenAI({ baseURL: base, apiKey: KEY, maxRetries: 0 });
      const p = preds.lmA[1];
      const stream = await c.chat.completions.create({
        model: 'lmA',
        messages: [{ role: 'user', content: p.text }],
        user: p.user,
        stream: true,
      });
      let text = '',
        signalled = false;
      for await (const chunk of stream) {
        if (!signalled) {
          child.kill('SIGTERM');
          signalled = true;
        }
        text += chunk.choices[0]?.delta.content ?? '';
      }
      assert.equal(text, p.response, 'the request in flight finished');
      assert.equal(await exited, 0);
      assert.match(out, /SIGTERM/);
    } finally {
      child.kill('SIGKILL');
    }
  },
);
