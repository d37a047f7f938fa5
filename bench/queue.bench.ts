// The queue's scale-out (issue 15): one grid of 8 small runs (2 datasets × CLS, CLS-P, LM, LM-P on
// a random 2-layer Llama) through a real Redis, on 1 and then on 2 worker processes of one
// OpenMP thread each; the wall-clock ratio is the row (goal ≥ 1.8×).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runPrepare, writeRandomLlama, ByteTokenizer } from '../lib/index.js';
import { syntheticRows, DEMO_LABELS } from '../lib/experiments/demo.js';
import { submitGrid } from '../lib/queue/submit.js';
import type { ExperimentConfig } from '../lib/experiments/experiment.js';
import { TestRedis, haveRedis } from './redis.js';
import type { Row } from './util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'bin', 'plf-native.js');

async function workers(n: number, url: string): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ChildProcess>((resolve, reject) => {
          const w = spawn(process.execPath, [bin, 'worker', '--queue', url], {
            env: { ...process.env, OMP_NUM_THREADS: '1' },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          w.stdout!.on('data', (d) => /waiting for runs/.test(String(d)) && resolve(w));
          w.once('exit', (c) => reject(new Error(`queue bench: a worker exited (${c})`)));
        }),
    ),
  );
}

export async function run(): Promise<Row[]> {
  if (!haveRedis())
    return [
      {
        suite: 'queue',
        case: 'queue: 8 runs on 2 workers vs 1',
        metric: '×',
        value: NaN,
        baseline: 'skipped: redis-server is not installed',
      },
    ];
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-queue-bench-'));
  const redis = await TestRedis.start();
  try {
    const model = path.join(root, 'model');
    writeRandomLlama(model, { hidden: 96, layers: 2, heads: 4, intermediate: 192, vocab: new ByteTokenizer().vocabSize }, { seed: 1 });
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      fs.copyFileSync(path.join(here, '..', '..', 'experiments', 'byte-tokenizer', f), path.join(model, f));
    const prepared: string[] = [];
    for (const seed of [1, 2]) {
      const raw = path.join(root, `raw${seed}.csv`);
      fs.writeFileSync(
        raw,
        syntheticRows(seed, 60, 4)
          .map((r) => r.map((f) => (/[",]/.test(f) ? `"${f}"` : f)).join(','))
          .join('\n'),
      );
      const out = path.join(root, `prepared${seed}`);
      await runPrepare({
        dataset: 'custom',
        input: [raw],
        out,
        split: 'random:0.6,0.2,0.2',
        seed,
        columns: { text: 'text', annotator: 'annotator', item: 'id', labelList: 'labels', labelNames: DEMO_LABELS },
      });
      prepared.push(out);
    }
    const grid = (out: string): ExperimentConfig => ({
      out,
      datasets: prepared.map((p, i) => ({ name: `d${i + 1}`, prepared: p })),
      models: [{ name: 'llama', path: model, quantize: 'nf4' }],
      settings: ['CLS', 'CLS-P', 'LM', 'LM-P'],
      lora: { r: 4, alpha: 16, dropout: 0 },
      train: { maxSteps: 12, batchSize: 4, gradAccum: 1, evalBatchSize: 8, lr: 1e-3 },
      limit: { train: 32, val: 8, test: 8 },
      maxLength: 1024,
    });
    const wall: number[] = [];
    for (const n of [1, 2]) {
      const ws = await workers(n, redis.url);
      try {
        const t0 = performance.now();
        const r = await submitGrid(grid(path.join(root, `out${n}`)), { queue: redis.url, pollMs: 250 });
        if (r?.length !== 8) throw new Error('queue bench: the grid did not finish');
        wall.push((performance.now() - t0) / 1000);
      } finally {
        ws.forEach((w) => w.kill('SIGKILL'));
      }
    }
    // the peer: the same 8 runs as local `experiment`s without a queue, in 1 process and split over 2
    const local = async (configs: ExperimentConfig[]) => {
      const t0 = performance.now();
      await Promise.all(
        configs.map((c, i) => {
          const file = path.join(c.out + `.json`);
          fs.writeFileSync(file, JSON.stringify(c));
          return new Promise<void>((resolve, reject) => {
            const p = spawn(process.execPath, [bin, 'experiment', '--config', file], {
              env: { ...process.env, OMP_NUM_THREADS: '1' },
              stdio: 'ignore',
            });
            p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`queue bench: local experiment ${i} exited ${code}`))));
          });
        }),
      );
      return (performance.now() - t0) / 1000;
    };
    const one = await local([grid(path.join(root, 'local1'))]);
    const two = await local([0, 1].map((i) => ({ ...grid(path.join(root, `local2-${i}`)), datasets: [grid('').datasets[i]] })));
    return [
      {
        suite: 'queue',
        case: 'queue: 8 runs on 2 workers (1 thread each) vs 1 (goal ≥ 1.8×)',
        metric: '×',
        value: wall[0] / wall[1],
        baseline: `1 worker ${wall[0].toFixed(1)} s, 2 workers ${wall[1].toFixed(1)} s`,
      },
      {
        suite: 'queue',
        case: 'the same runs without a queue: 2 local processes vs 1 (what this machine allows)',
        metric: '×',
        value: one / two,
        baseline: `1 process ${one.toFixed(1)} s, 2 processes ${two.toFixed(1)} s`,
      },
    ];
  } finally {
    await redis.down();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
