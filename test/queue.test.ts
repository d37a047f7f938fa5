// The experiment grid on BullMQ workers against a real Redis (issue 15): a 2 datasets × 2
// settings grid on two worker processes gives the local run's metrics byte for byte; a worker
// killed with SIGKILL mid-run loses nothing (another takes the run and resumes it from its
// checkpoint); submitting again queues nothing; a bad model path fails once and is reported; Redis
// killed and restarted mid-grid (no persistence: every job gone) — the grid still completes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { runExperiment, type ExperimentConfig } from '../lib/experiments/experiment.js';
import { gridRuns } from '../lib/experiments/experiment.js';
import { submitGrid, gridStatus } from '../lib/queue/submit.js';
import { jobId, type RunProgress } from '../lib/queue/jobs.js';
import { QUEUE_NAME, QueueError, checkReachable, redisTarget } from '../lib/queue/connection.js';
import { sharedPath, skipMessage, prepareSynthetic } from './helpers.js';
import { TestRedis, haveRedis } from '../bench/redis.js';
import { lockRunFolder } from '../lib/io/files.js';

const fixture = sharedPath('fixtures/hf/llama/model');
const skip = !fixture
  ? skipMessage('fixtures/hf/llama/model')
  : !haveRedis()
    ? 'redis-server is not installed (apt-get install redis-server)'
    : false;
const bin = path.resolve('dist', 'bin', 'plf-native.js');

let root = '';
let redis: TestRedis;
let model = '';
const prepared: string[] = [];
const workers: ChildProcess[] = [];

function config(out: string, over: Partial<ExperimentConfig> = {}): ExperimentConfig {
  return {
    out,
    datasets: prepared.map((p, i) => ({ name: `d${i + 1}`, prepared: p })),
    models: [{ name: 'llama', path: model, quantize: 'nf4' }],
    settings: ['CLS-P', 'LM-P'],
    lora: { r: 4, alpha: 16, dropout: 0 },
    train: { maxSteps: 30, batchSize: 4, gradAccum: 1, evalBatchSize: 4, saveEvery: 2, lr: 1e-3 },
    limit: { train: 16, val: 4, test: 4 },
    maxLength: 1024,
    ...over,
  };
}

function startWorker(): ChildProcess {
  const w = spawn(process.execPath, [bin, 'worker', '--queue', redis.url, '--lock-ms', '1500'], {
    env: { ...process.env, PLF_PROGRESS_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  w.stdout!.on('data', (d) => (log += d));
  w.stderr!.on('data', (d) => (log += d));
  (w as ChildProcess & { log: () => string }).log = () => log;
  workers.push(w);
  return w;
}

const metricsOf = (c: ExperimentConfig) =>
  gridRuns(c).map((g) => JSON.stringify(JSON.parse(fs.readFileSync(path.join(g.run.out, 'metrics.json'), 'utf8')).metrics));

before(
  async () => {
    if (skip) return;
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-queue-'));
    redis = await TestRedis.start();
    // the fixture with the byte tokenizer in HF format (experiments read the model folder's tokenizer)
    model = path.join(root, 'model');
    fs.cpSync(fixture!, model, { recursive: true });
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      fs.copyFileSync(path.resolve('experiments', 'byte-tokenizer', f), path.join(model, f));
    for (const d of ['a', 'b']) prepared.push(await prepareSynthetic(path.join(root, d)));
  },
  { timeout: 60_000 },
);

after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await redis?.down();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('an unreachable Redis is a clear error naming the URL (password hidden)', { skip }, async () => {
  await assert.rejects(checkReachable(redisTarget('redis://:s3cret-pass@127.0.0.1:1/0'), 1000), (e: unknown) => {
    assert.ok(e instanceof QueueError);
    assert.match((e as Error).message, /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0/);
    assert.doesNotMatch((e as Error).message, /s3cret/);
    return true;
  });
});

test(
  'two workers, one SIGKILLed mid-run: the same metrics as the local grid, the killed run resumed from its checkpoint',
  { skip, timeout: 300_000 },
  async () => {
    // one dataset × two settings: a run for each worker
    const small = (out: string) =>
      config(out, { datasets: config(out).datasets.slice(0, 1), train: { ...config(out).train, maxSteps: 20 } });
    const local = path.join(root, 'local');
    await runExperiment(small(local));
    const out = path.join(root, 'queued');
    const c = small(out);
    const [w1] = [startWorker(), startWorker()];
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const q = new Queue(QUEUE_NAME, { connection: conn });
    const first = gridRuns(c)[0];
    let killed = '';
    // kill whichever worker runs the first run once it has checkpointed a few steps
    const watch = (async () => {
      for (let i = 0; i < 3000 && !killed; i++) {
        const job = await q.getJob(jobId(first));
        const p = job?.progress as RunProgress | undefined;
        if (p && p.state === 'training' && (p.step ?? 0) >= 6) {
          const pid = Number(p.worker.split(':').pop());
          const w = workers.find((x) => x.pid === pid)!;
          w.kill('SIGKILL');
          killed = `pid ${pid} at step ${p.step}`;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const results = await submitGrid(c, { queue: redis.url, pollMs: 100, backoffMs: 300 });
    await watch;
    assert.ok(killed, 'a worker was killed mid-run');
    assert.equal(results!.length, 2);
    assert.deepEqual(metricsOf(c), metricsOf(small(local)), 'the same metrics as the local run, byte for byte');
    const logs = (await q.getJobLogs(jobId(first))).logs.join('\n');
    const resumed = /resuming from \S+ at step (\d+)/.exec(logs);
    assert.ok(resumed && Number(resumed[1]) >= 2, `the killed run continued from its checkpoint (${killed}; job log: ${logs})`);
    for (const f of ['results.json', 'results.csv', 'tables.md', 'gains.svg']) assert.ok(fs.existsSync(path.join(out, f)), f);
    // submitting the same grid again queues nothing and returns the same results
    const said: string[] = [];
    const again = await submitGrid(c, { queue: redis.url, pollMs: 50, log: (m) => said.push(m) });
    assert.match(said.join('\n'), /queued 0 run\(s\)/);
    assert.deepEqual(
      again!.map((r) => r.f1Macro),
      results!.map((r) => r.f1Macro),
    );
    void w1;
    await q.close();
    conn.disconnect();
  },
);

test('a run with a bad model path fails once, with its error in --status', { skip, timeout: 60_000 }, async () => {
  if (!workers.some((w) => w.exitCode === null && w.signalCode === null)) startWorker();
  const c = config(path.join(root, 'bad'), {
    models: [{ name: 'nowhere', path: path.join(root, 'no-such-model'), quantize: 'nf4' }],
    settings: ['CLS'],
  });
  c.datasets = c.datasets.slice(0, 1);
  await assert.rejects(submitGrid(c, { queue: redis.url, pollMs: 100, backoffMs: 300 }), (e: unknown) => {
    assert.ok(e instanceof QueueError);
    assert.match((e as Error).message, /1 of 1 run\(s\) failed/);
    assert.match((e as Error).message, /no-such-model/);
    return true;
  });
  const [row] = await gridStatus(c, redis.url);
  assert.equal(row.state, 'failed');
  assert.equal(row.attempts, 1, 'not retried');
  assert.match(row.error!, /ConfigError: .*no-such-model: no such model folder/);
});

test('Redis killed and restarted mid-grid (every job lost): the grid still completes', { skip, timeout: 180_000 }, async () => {
  while (workers.filter((w) => w.exitCode === null && w.signalCode === null).length < 2) startWorker();
  const c = config(path.join(root, 'restart'), { settings: ['LM-P'], train: { ...config('').train, seed: 5, maxSteps: 16 } });
  const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  conn.on('error', () => {}); // Redis goes away on purpose
  const q = new Queue(QUEUE_NAME, { connection: conn });
  let restarted = false;
  const chaos = (async () => {
    for (let i = 0; i < 3000; i++) {
      const p = (await q.getJob(jobId(gridRuns(c)[0])))?.progress as RunProgress | undefined;
      if (p?.state === 'training' && (p.step ?? 0) >= 4) {
        await q.close();
        conn.disconnect();
        await redis.down();
        await new Promise((r) => setTimeout(r, 1000));
        await redis.up();
        restarted = true;
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const said: string[] = [];
  const results = await submitGrid(c, { queue: redis.url, pollMs: 100, backoffMs: 300, log: (m) => said.push(m) });
  await chaos;
  assert.ok(restarted, 'Redis was restarted mid-run');
  assert.equal(results!.length, 2);
  assert.match(said.join('\n'), /gone from Redis/);
  for (const g of gridRuns(c)) {
    if (!fs.existsSync(path.join(g.run.out, 'metrics.json'))) {
      // seen intermittently: what the submitter said, what the folder holds and what the workers logged
      console.log(`submitter:\n${said.join('\n')}`);
      console.log(`${g.run.out}: ${fs.existsSync(g.run.out) ? fs.readdirSync(g.run.out).join(', ') : 'missing'}`);
      for (const w of workers) console.log(`worker ${w.pid}:\n${(w as ChildProcess & { log: () => string }).log()}`);
    }
    assert.ok(fs.existsSync(path.join(g.run.out, 'metrics.json')), g.name);
  }
});

test(
  "a job that completed with another run's result is queued again (BullMQ's sandbox after a lost job)",
  { skip, timeout: 60_000 },
  async () => {
    // a queue of its own (database 5: the plf workers above listen on 0) served by an in-process
    // BullMQ worker that hands d2's first attempt d1's result, as a reused child still busy with a
    // lost d1 job once did
    const url = `${redis.url}/5`;
    const c = config(path.join(root, 'mixup'), { settings: ['LM-P'] });
    const [g1, g2] = gridRuns(c);
    const result = (g: typeof g1, f1: number) => ({
      dataset: g.dataset,
      model: g.model,
      setting: g.run.setting,
      f1Macro: f1,
      f1Micro: f1,
      subsetAccuracy: f1,
      rows: 4,
      jobId: jobId(g),
    });
    // the same-named run of another grid (another folder): same dataset, model and setting, another job
    const other = gridRuns(config(path.join(root, 'elsewhere'), { settings: ['LM-P'] }))[0];
    const conn = new Redis(url, { maxRetriesPerRequest: null });
    let [d1Runs, d2Runs] = [0, 0];
    const w = new Worker(
      QUEUE_NAME,
      async (job) => {
        if (job.id === jobId(g1)) return d1Runs++ === 0 ? result(other, 0.75) : result(g1, 0.25);
        return d2Runs++ === 0 ? result(g1, 0.25) : result(g2, 0.5);
      },
      { connection: conn },
    );
    try {
      const said: string[] = [];
      const results = await submitGrid(c, { queue: url, pollMs: 50, log: (m) => said.push(m) });
      assert.match(
        said.join('\n'),
        /d2\/llama\/LM-P: its job completed with another run's result \(d1\/llama\/LM-P, job run-\w+\): queued again/,
      );
      assert.match(
        said.join('\n'),
        new RegExp(`d1/llama/LM-P: its job completed with another run's result \\(d1/llama/LM-P, job ${jobId(other)}\\)`),
      );
      assert.deepEqual([d1Runs, d2Runs], [2, 2], 'both ran again');
      assert.deepEqual(
        results!.map((r) => [r.dataset, r.f1Macro]),
        [
          ['d1', 0.25],
          ['d2', 0.5],
        ],
      );
      assert.ok(!('jobId' in results![0]), 'the job id stays out of the results');
    } finally {
      await w.close();
      conn.disconnect();
    }
  },
);

/** The pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  return fs.readdirSync('/proc').flatMap((d) => {
    if (!/^\d+$/.test(d)) return [];
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid ? [Number(d)] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
}
/** Exited (a zombie nobody reaps in a container counts as exited). */
function exited(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

test(
  "a run whose job's lock another attempt holds stops at once (one writer per run folder); the job still completes",
  { skip, timeout: 120_000 },
  async () => {
    if (!workers.some((w) => w.exitCode === null && w.signalCode === null)) startWorker();
    const c = config(path.join(root, 'fenced'), { settings: ['LM-P'], train: { ...config('').train, maxSteps: 24 } });
    c.datasets = c.datasets.slice(0, 1);
    const [g] = gridRuns(c);
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const q = new Queue(QUEUE_NAME, { connection: conn });
    let fenced: { worker: ChildProcess; child: number } | null = null;
    const thief = (async () => {
      for (let i = 0; i < 3000 && !fenced; i++) {
        const p = (await q.getJob(jobId(g)))?.progress as RunProgress | undefined;
        if (p?.state === 'training' && (p.step ?? 0) >= 4) {
          const pid = Number(p.worker.split(':').pop());
          // as if the lock had expired and another attempt had taken the job: for 3 s, then BullMQ's
          // stalled check gives the job to a next attempt
          await conn.set(`bull:${QUEUE_NAME}:${jobId(g)}:lock`, 'another-attempt', 'PX', 3000);
          // the child running it holds the run folder's lock
          const child = Number(JSON.parse(fs.readFileSync(path.join(g.run.out, '.lock'), 'utf8')).pid);
          assert.ok(childrenOf(pid).includes(child), 'the run folder is held by a child of the worker');
          fenced = { worker: workers.find((w) => w.pid === pid)!, child };
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const results = await submitGrid(c, { queue: redis.url, pollMs: 100, backoffMs: 300 });
      await thief;
      assert.ok(fenced, 'the lock was taken mid-run');
      const { worker, child } = fenced as { worker: ChildProcess; child: number };
      const said = (worker as ChildProcess & { log: () => string }).log();
      assert.ok(exited(child), `the fenced child exited (worker log:\n${said})`);
      assert.match(said, /d1\/llama\/LM-P: its job's lock is no longer this worker's: stopping its run \(pid \d+\)/);
      assert.equal(results!.length, 1);
      assert.ok(fs.existsSync(path.join(g.run.out, 'metrics.json')));
      const logs = (await q.getJobLogs(jobId(g))).logs.join('\n');
      assert.match(logs, /resuming from \S+ at step \d+/, 'the next attempt resumed the run');
    } finally {
      await q.close();
      conn.disconnect();
    }
  },
);

test(
  'SIGKILLed workers leave no process behind: their sandboxed children exit with them, a run waiting for its folder too',
  { skip: skip || (!fs.existsSync('/proc/self/stat') && 'needs /proc (Linux) to find the children'), timeout: 60_000 },
  async () => {
    // this process holds the run's folder: the worker's child waits for it (up to an hour), sending
    // nothing the dead worker could fail
    const c = config(path.join(root, 'orphan'), { settings: ['LM-P'] });
    c.datasets = c.datasets.slice(0, 1);
    const [g] = gridRuns(c);
    const unlock = lockRunFolder(g.run.out);
    if (!workers.some((x) => x.exitCode === null && x.signalCode === null)) startWorker();
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const q = new Queue(QUEUE_NAME, { connection: conn });
    try {
      await submitGrid(c, { queue: redis.url, detach: true });
      let waiting = false;
      for (let i = 0; i < 300 && !waiting; i++) {
        waiting = (await q.getJobLogs(jobId(g))).logs.some((l) => /in use by another run .*waiting for it/.test(l));
        if (!waiting) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(waiting, "the worker's child waits for the folder");
      const live = workers.filter((x) => x.exitCode === null && x.signalCode === null);
      const kids = live.flatMap((x) => childrenOf(x.pid!));
      const holder = Number(((await q.getJob(jobId(g)))?.progress as RunProgress).worker.split(':').pop());
      assert.ok(live.some((x) => x.pid === holder) && childrenOf(holder).length > 0, 'the waiting run is a child of a live worker');
      for (const x of live) x.kill('SIGKILL');
      for (let i = 0; i < 100 && !kids.every(exited); i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        kids.filter((k) => !exited(k)),
        [],
        'children still running 10 s after their worker was killed',
      );
    } finally {
      unlock();
      await q.close();
      conn.disconnect();
    }
  },
);
