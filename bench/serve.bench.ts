// The server under load (issue 14): requests/s and p50/p99 latency for classification and for
// 8-token completions at concurrency 1, 8 and 32, the batching gain (max-batch 16 against 1, the
// same run, the same load) and the HTTP thread's event-loop lag p99 — one process, a bounded
// loader (fetch) against a loopback server on a random 4-layer Llama (hidden 256) with LoRA runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer, customTemplate, loadModel, writeRandomLlama, ByteTokenizer } from '../lib/index.js';
import { writeRunInfo } from '../lib/experiments/run-info.js';
import { DEMO_LABELS } from '../lib/experiments/demo.js';
import type { Row } from './util.js';

const CONCURRENCY = [1, 8, 32];
const TEXT = 'I cannot believe how well this turned out, thank you so much for the help!';

function makeRuns(root: string): string[] {
  const base = path.join(root, 'base');
  const tok = new ByteTokenizer();
  writeRandomLlama(base, { hidden: 256, layers: 4, heads: 4, intermediate: 688, vocab: tok.vocabSize }, { seed: 1 });
  const template = customTemplate(DEMO_LABELS);
  return (['CLS-P', 'LM-P'] as const).map((setting) => {
    const dir = path.join(root, setting);
    const task = setting === 'CLS-P' ? 'sequence-classification' : 'causal-lm';
    using m = loadModel(base, { task, numLabels: DEMO_LABELS.length });
    m.addLora({ r: 8, alpha: 16, seed: 3 });
    m.saveAdapter(path.join(dir, 'best'));
    writeRunInfo(dir, {
      base,
      modelName: 'bench-llama',
      setting,
      dataset: 'bench',
      template,
      maxLength: 1024,
      lora: m.lora,
      quantize: null,
      device: 'cpu',
      activations: 'f32',
      task,
      tokenizer: 'byte',
    });
    return dir;
  });
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  lagP99: number;
}

/** `n` requests, `c` at a time; latency per request and the event loop's delay meanwhile. */
async function load(send: () => Promise<void>, c: number, n: number): Promise<Load> {
  const lat: number[] = [];
  let next = 0;
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next++ < n) {
        const t = performance.now();
        await send();
        lat.push(performance.now() - t);
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  h.disable();
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { rps: n / s, p50: q(0.5), p99: q(0.99), lagP99: h.percentile(99) / 1e6 };
}

export async function run(): Promise<Row[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-serve-bench-'));
  const rows: Row[] = [];
  try {
    const runs = makeRuns(root).map((d, i) => `${['cls', 'lm'][i]}=${d}`);
    const results: Record<string, Load> = {};
    for (const maxBatch of [16, 1]) {
      const srv = await createServer({ runs, maxBatch, maxQueue: 1024 });
      try {
        const s = await srv.listen(0);
        const url = `http://127.0.0.1:${(s.address() as { port: number }).port}/v1`;
        const post = async (route: string, body: object) => {
          const r = await fetch(`${url}/${route}`, {
            method: 'POST',
            body: JSON.stringify(body),
            headers: { 'content-type': 'application/json' },
          });
          if (r.status !== 200) throw new Error(`serve bench: ${route} answered ${r.status}: ${await r.text()}`);
          await r.arrayBuffer();
        };
        const kinds = {
          classify: () => post('moderations', { model: 'cls', input: TEXT, user: 'annotator-7' }),
          'complete 8 tokens': () =>
            post('chat/completions', {
              model: 'lm',
              messages: [{ role: 'user', content: TEXT }],
              user: 'annotator-7',
              max_tokens: 8,
              stop: null,
            }),
          // the base with a 12-token prompt: decoding, not the prompt, is the work
          'complete 8 tokens, short prompt (base)': () =>
            post('chat/completions', { model: 'bench-llama', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 8 }),
        };
        for (const [kind, send] of Object.entries(kinds)) {
          await load(send, 4, 8); // warm
          for (const c of maxBatch === 16 ? CONCURRENCY : [32]) {
            const n = kind === 'classify' ? Math.max(32, 4 * c) : Math.max(16, 2 * c);
            const r = await load(send, c, n);
            results[`${kind} c${c} b${maxBatch}`] = r;
            if (maxBatch === 16)
              rows.push({
                suite: 'serve',
                case: `serve ${kind}, concurrency ${c} (max-batch 16)`,
                metric: 'req/s',
                value: r.rps,
                baseline: `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, event-loop lag p99 ${r.lagP99.toFixed(1)} ms`,
              });
          }
        }
      } finally {
        await srv.close();
      }
    }
    for (const kind of ['classify', 'complete 8 tokens', 'complete 8 tokens, short prompt (base)']) {
      const a = results[`${kind} c32 b16`],
        b = results[`${kind} c32 b1`];
      rows.push({
        suite: 'serve',
        case: `serve ${kind}, concurrency 32: batching gain (goal ≥ 4×)`,
        metric: 'req/s',
        value: a.rps,
        baseline: 'max-batch 1',
        baselineValue: b.rps,
      });
      rows.push({
        suite: 'serve',
        case: `serve ${kind}, concurrency 32: event-loop lag p99 (goal < 20 ms)`,
        metric: 'ms',
        value: a.lagP99,
      });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
