// The OpenAI-compatible client against an HTTP server on loopback: success, 429 then retry,
// timeouts, malformed JSON, the concurrency limit, the resumable cache, and `query` end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ChatClient, EndpointError, runPrepare, runQuery } from '../lib/index.js';
import { syntheticRows, DEMO_LABELS } from '../lib/experiments/demo.js';

type Handler = (body: { model: string; messages: { content: string }[] }, res: http.ServerResponse, n: number) => void;

async function server(h: Handler): Promise<{ url: string; hits: () => number; maxActive: () => number; close: () => Promise<void> }> {
  let n = 0,
    active = 0,
    maxActive = 0;
  const s = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      n++;
      active++;
      maxActive = Math.max(maxActive, active);
      res.on('close', () => active--);
      assert.equal(req.url, '/v1/chat/completions');
      h(JSON.parse(data), res, n);
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    hits: () => n,
    maxActive: () => maxActive,
    close: () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  };
}
const reply = (res: http.ServerResponse, content: string, delay = 0) =>
  setTimeout(() => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content } }] }));
  }, delay);

test('success and a bad endpoint', async () => {
  const srv = await server((b, res) => reply(res, `echo ${b.messages[0].content} (${b.model})`));
  try {
    const c = new ChatClient({ endpoint: srv.url, model: 'm1', apiKey: 'k123' });
    assert.equal(await c.complete('hi'), 'echo hi (m1)');
    assert.throws(() => new ChatClient({ endpoint: 'localhost:1', model: 'm' }), /http\(s\) URL/);
  } finally {
    await srv.close();
  }
});

test('429 and 5xx are retried with backoff (Retry-After honoured); 4xx is not', async () => {
  const srv = await server((_b, res, n) => {
    if (n === 1) {
      res.statusCode = 429;
      res.setHeader('retry-after', '0');
      res.end('slow down');
      return;
    }
    if (n === 2) {
      res.statusCode = 503;
      res.end('busy');
      return;
    }
    if (n === 4) {
      res.statusCode = 400;
      res.end('bad request');
      return;
    }
    reply(res, 'joy');
  });
  try {
    const c = new ChatClient({ endpoint: srv.url, model: 'm', backoffMs: 5 });
    assert.equal(await c.complete('a'), 'joy');
    assert.equal(srv.hits(), 3);
    await assert.rejects(
      c.complete('b'),
      (e: Error) => e instanceof EndpointError && /HTTP 400/.test(e.message) && /after 1 attempt\)/.test(e.message),
    );
    assert.equal(srv.hits(), 4, 'a 400 is not retried');
  } finally {
    await srv.close();
  }
});

test('timeouts are retried and finally reported; malformed JSON is a clear error', async () => {
  const srv = await server((b, res) => {
    if (b.messages[0].content === 'slow') return void setTimeout(() => reply(res, 'late'), 400);
    res.setHeader('content-type', 'application/json');
    res.end('{"choices": [ oops');
  });
  try {
    const c = new ChatClient({ endpoint: srv.url, model: 'm', timeoutMs: 50, retries: 2, backoffMs: 5 });
    await assert.rejects(
      c.complete('slow'),
      (e: Error) => e instanceof EndpointError && /timed out after 50 ms/.test(e.message) && /3 attempts/.test(e.message),
    );
    await assert.rejects(c.complete('x'), (e: Error) => e instanceof EndpointError && /not JSON/.test(e.message));
  } finally {
    await srv.close();
  }
});

test('the concurrency limit holds and the cache resumes an interrupted run', async () => {
  const srv = await server((b, res) => reply(res, b.messages[0].content.toUpperCase(), 30));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-oa-'));
  try {
    const cacheFile = path.join(dir, 'cache.jsonl');
    const c = new ChatClient({ endpoint: srv.url, model: 'm', concurrency: 3, cacheFile });
    const out = await Promise.all(Array.from({ length: 10 }, (_, i) => c.complete(`p${i}`)));
    assert.deepEqual(
      out,
      Array.from({ length: 10 }, (_, i) => `P${i}`),
    );
    assert.ok(srv.maxActive() <= 3, `max in flight ${srv.maxActive()}`);
    fs.appendFileSync(cacheFile, '{"key": "torn'); // a kill mid-write
    const again = new ChatClient({ endpoint: srv.url, model: 'm', cacheFile });
    assert.equal(again.cached, 10);
    assert.equal(await again.complete('p3'), 'P3');
    assert.equal(srv.hits(), 10, 'cached prompts are not sent again');
  } finally {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('query: Q-1S over the endpoint writes metrics and predictions', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-q-'));
  const srv = await server((b, res) => reply(res, /### Example Response:\n([^\n]*)/.exec(b.messages[0].content)?.[1] ?? 'joy'));
  try {
    const raw = path.join(dir, 'raw.csv');
    fs.writeFileSync(
      raw,
      syntheticRows(1, 40)
        .map((r) => r.map((f) => (/[",]/.test(f) ? `"${f}"` : f)).join(','))
        .join('\n'),
    );
    await runPrepare({
      dataset: 'custom',
      input: [raw],
      out: path.join(dir, 'p'),
      split: 'random:0.6,0.2,0.2',
      columns: { text: 'text', annotator: 'annotator', item: 'id', labelList: 'labels', labelNames: DEMO_LABELS },
    });
    process.env.PLF_TEST_KEY = 'secret';
    const r = await runQuery({
      prepared: path.join(dir, 'p'),
      setting: 'Q-1S',
      endpoint: srv.url,
      model: 'echo-example',
      apiKeyEnv: 'PLF_TEST_KEY',
      out: path.join(dir, 'q'),
    });
    assert.ok(r.rows > 0);
    assert.ok(r.f1Macro > 0, 'answering with the example response scores above zero');
    const preds = fs
      .readFileSync(path.join(dir, 'q', 'predictions.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(preds.length, r.rows);
    delete process.env.PLF_TEST_KEY;
    await assert.rejects(
      runQuery({
        prepared: path.join(dir, 'p'),
        setting: 'Q-0S',
        endpoint: srv.url,
        model: 'm',
        apiKeyEnv: 'PLF_TEST_KEY',
        out: path.join(dir, 'q2'),
      }),
      /PLF_TEST_KEY/,
    );
  } finally {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
