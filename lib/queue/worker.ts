// `plf-native worker`: takes runs from the queue and runs each in a sandboxed child process
// (processor.ts), one at a time per GPU. A worker that dies mid-run leaves its job without a lock
// renewal: BullMQ marks it stalled and another worker takes it, resuming from the run's last
// checkpoint. Deterministic failures fail once; others retry with backoff (the submitter sets both).
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { ConfigError } from '../errors.js';
import { checkReachable, connect, redisTarget, throttled, QUEUE_NAME } from './connection.js';
import type { JobResult, RunJobData, RunProgress } from './jobs.js';

export interface WorkerOptions {
  /** redis://host:port[/db] */
  queue: string;
  /** 'cpu', 'cuda' or 'cuda:N' (that GPU alone); default: each run's own device */
  device?: string;
  /** runs at once (default 1: one per GPU) */
  concurrency?: number;
  /** where this worker reaches the submitter's experiment folder (shared storage mounted elsewhere) */
  outRoot?: string;
  /** how long a job's lock lasts without renewal, ms (default 30 s): a dead worker's run is taken after about this long */
  lockMs?: number;
  /** how often stalled jobs are looked for, ms (default 30 s) */
  stalledMs?: number;
  log?: (msg: string) => void;
}

export interface QueueWorker {
  /** finishes the run in progress (it checkpoints as it goes), takes no more, disconnects */
  close(): Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<QueueWorker> {
  const t = redisTarget(o.queue);
  const log = o.log ?? ((m: string) => console.log(m));
  const env: Record<string, string | undefined> = { ...process.env };
  if (o.device !== undefined) {
    const m = /^(cpu|cuda)(?::(\d+))?$/.exec(o.device);
    if (!m || (m[1] === 'cpu' && m[2] !== undefined)) throw new ConfigError(`--device must be cpu, cuda or cuda:N, got '${o.device}'`);
    env.PLF_WORKER_DEVICE = m[1];
    if (m[2] !== undefined) env.CUDA_VISIBLE_DEVICES = m[2];
  }
  if (o.outRoot) env.PLF_OUT_ROOT = o.outRoot;
  const concurrency = o.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new ConfigError(`--concurrency must be an integer in 1…64, got ${concurrency}`);
  await checkReachable(t);
  const connection = connect(t, (e) => log(`worker: ${e.message}`));
  const processor = fileURLToPath(new URL('./processor.js', import.meta.url));
  const w = new Worker<RunJobData, JobResult>(QUEUE_NAME, processor, {
    connection,
    concurrency,
    useWorkerThreads: false,
    workerForkOptions: { env },
    lockDuration: o.lockMs ?? 30_000,
    stalledInterval: o.stalledMs ?? 30_000,
    maxStalledCount: 5,
  });
  const me = `${os.hostname()}:${process.pid}`;
  w.on('active', (job: Job<RunJobData>) => log(`worker ${me}: run ${job.data.name} (attempt ${job.attemptsStarted})`));
  w.on('completed', (job: Job<RunJobData>) => log(`worker ${me}: finished ${job.data.name}`));
  w.on('failed', (job, e) => log(`worker ${me}: ${job?.data.name ?? 'a run'} failed: ${e.message}`));
  const say = throttled(log); // a Redis outage is said every 10 s, not once per reconnect attempt
  w.on('error', (e) => say(`worker ${me}: ${e.message}`));
  // Fencing: a job whose lock this worker could not renew (it expired while the worker stalled,
  // another attempt holds it, or Redis lost the job) goes to another attempt, which resumes the run
  // from its checkpoint; the process still running it here is stopped at once — one writer per run
  // folder even when the next attempt is on another host (it takes the folder's lock over), and no
  // child stays busy with a lost job (BullMQ's sandbox hands such a child the next job, which then
  // fails, or completes with the lost job's result). The run's process says its pid in its
  // progress; its JS thread is busy in native code, so it could not watch the lock itself.
  const running = new Map<string, { pid: number; name: string }>();
  w.on('progress', (job: Job<RunJobData>, p) => {
    const pid = (p as RunProgress | undefined)?.pid;
    if (job.id && Number.isInteger(pid)) running.set(job.id, { pid: pid!, name: job.data.name });
  });
  // forgotten when the job ends here, and when an attempt starts (an attempt whose end BullMQ
  // could not record leaves its entry: its pid may belong to another process by now)
  const done = (job: Job | undefined) => job?.id && running.delete(job.id);
  w.on('active', done);
  w.on('completed', done);
  w.on('failed', done);
  w.on('lockRenewalFailed', (ids: string[]) => {
    for (const id of ids) {
      const r = running.get(id);
      if (!r) continue;
      running.delete(id);
      log(
        `worker ${me}: ${r.name}: its job's lock is no longer this worker's: stopping its run (pid ${r.pid}); the job's next attempt resumes it`,
      );
      try {
        process.kill(r.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
  await w.waitUntilReady();
  log(`worker ${me}: waiting for runs on ${t.shown}${o.device ? ` (device ${o.device})` : ''}`);
  return {
    async close() {
      await w.close(); // waits for the run in progress
      connection.disconnect();
    },
  };
}
