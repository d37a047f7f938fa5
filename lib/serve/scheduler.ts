// The HTTP thread's side of the model: a queue of rows, dynamic batching (rows for the same model
// that wait together — or arrive within the batch window of an idle worker — go through one
// forward pass, up to maxBatch), the worker thread that runs them, and cancellation.
import { Worker } from 'node:worker_threads';
import { ConfigError, PlfError } from '../errors.js';
import type { ClassifyRow, GenerateRow, RowResult } from './engine.js';
import type { ServedModel } from './models.js';
import type { FromWorker, ToWorker, WorkerData } from './worker.js';

/** A request the server does not carry out: its HTTP status and OpenAI's error fields (type, param, code). */
export class ServeError extends PlfError {
  constructor(
    message: string,
    readonly status = 500,
    readonly type = 'server_error',
    readonly param: string | null = null,
    readonly apiCode: string | null = null,
    /** seconds, with 429 */
    readonly retryAfter?: number,
  ) {
    super(message, 'PLF_SERVE');
  }
}

export interface SchedulerOptions {
  /** rows per forward pass (default 16) */
  maxBatch?: number;
  /** rows waiting or running before requests are refused with 429 (default 256) */
  maxQueue?: number;
  /** how long an idle worker waits for more rows of the same model (default 2 ms) */
  batchWindowMs?: number;
}

type Kind = 'classify' | 'generate';
interface Job {
  kind: Kind;
  model: string;
  row: ClassifyRow | GenerateRow;
  stream: boolean;
  onText?: (delta: string) => void;
  settle: (r: RowResult<unknown>) => void;
  fail: (e: Error) => void;
  enqueued: number;
  cancelled: boolean;
  slot: number;
}

export interface BatchStats {
  kind: Kind;
  rows: number;
  ms: number;
  results: RowResult<unknown>[];
}

export class Scheduler {
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly windowMs: number;
  /** resolves when the worker has loaded every model (rejects with the loader's error) */
  readonly ready: Promise<void>;
  private worker: Worker;
  private cancel: Int32Array;
  private queue: Job[] = [];
  private running: { id: number; jobs: Job[]; kind: Kind } | null = null;
  private nextBatch = 1;
  private timer: NodeJS.Timeout | null = null;
  private broken: string | null = null;
  private idleWaiters: (() => void)[] = [];
  private exited: Promise<void>;
  /** called after every batch (metrics) */
  onBatch?: (s: BatchStats) => void;

  constructor(models: ServedModel[], o: SchedulerOptions = {}) {
    this.maxBatch = o.maxBatch ?? 16;
    this.maxQueue = o.maxQueue ?? 256;
    this.windowMs = o.batchWindowMs ?? 2;
    for (const [k, v, lo] of [
      ['maxBatch', this.maxBatch, 1],
      ['maxQueue', this.maxQueue, 1],
      ['batchWindowMs', this.windowMs, 0],
    ] as const)
      if (!Number.isInteger(v) || v < lo || v > 1_000_000)
        throw new ConfigError(`serve: ${k} must be an integer in ${lo}…1000000, got ${v}`);
    const cancel = new SharedArrayBuffer(4 * this.maxBatch);
    this.cancel = new Int32Array(cancel);
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { models, cancel } satisfies WorkerData });
    this.exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'failed') {
          this.broken = m.message;
          reject(m.name === 'ConfigError' ? new ConfigError(m.message) : new ServeError(`loading the models: ${m.name}: ${m.message}`));
        } else this.onMessage(m);
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', (e) => {
        this.fatal(`the model thread failed: ${e.message}`);
        reject(new ServeError(`the model thread failed: ${e.message}`));
      });
      this.worker.on('exit', (code) => {
        this.fatal(`the model thread exited (code ${code})`);
        reject(new ServeError(`the model thread exited (code ${code}) before it was ready`));
      });
    });
    this.ready.catch(() => {}); // observed by whoever awaits it
  }

  /** rows waiting */
  get depth(): number {
    return this.queue.length;
  }
  /** rows in the batch being run */
  get inflight(): number {
    return this.running?.jobs.length ?? 0;
  }

  /**
   * Queues rows (one request's: all or none, 429 when they do not fit) and resolves each row's
   * result. A signal that aborts drops rows still waiting and stops rows being generated.
   */
  submit<T>(
    kind: Kind,
    model: string,
    rows: (ClassifyRow | GenerateRow)[],
    o: { stream?: boolean; onText?: (delta: string) => void; signal?: AbortSignal } = {},
  ): Promise<RowResult<T>>[] {
    if (this.broken) throw new ServeError(`the server cannot run models: ${this.broken}`, 503, 'server_error', null, 'unavailable');
    if (this.queue.length + this.inflight + rows.length > this.maxQueue)
      throw new ServeError(
        `the server is busy: ${this.queue.length + this.inflight} rows queued or running, at most ${this.maxQueue}; retry later`,
        429,
        'requests',
        null,
        'rate_limit_exceeded',
        1,
      );
    const jobs: Job[] = [];
    const promises = rows.map(
      (row) =>
        new Promise<RowResult<T>>((settle, fail) => {
          jobs.push({
            kind,
            model,
            row,
            stream: !!o.stream,
            onText: o.onText,
            settle: settle as Job['settle'],
            fail,
            enqueued: performance.now(),
            cancelled: false,
            slot: -1,
          });
        }),
    );
    this.queue.push(...jobs);
    if (o.signal) {
      const abort = () => jobs.forEach((j) => this.drop(j));
      if (o.signal.aborted) abort();
      else o.signal.addEventListener('abort', abort, { once: true });
    }
    this.pump();
    return promises;
  }

  /** Cancels a row: a waiting one settles at once (499), a running one stops at the next step. */
  private drop(j: Job): void {
    if (j.cancelled) return;
    j.cancelled = true;
    const i = this.queue.indexOf(j);
    if (i >= 0) {
      this.queue.splice(i, 1);
      j.settle({ ok: false, status: 499, message: 'cancelled by the client', param: null, code: 'cancelled' });
      this.checkIdle();
    } else if (j.slot >= 0 && this.running?.jobs[j.slot] === j) Atomics.store(this.cancel, j.slot, 1);
  }

  private pump(): void {
    if (this.running || !this.queue.length || this.broken) return;
    const head = this.queue[0];
    const same = this.queue.filter((j) => j.model === head.model && j.kind === head.kind).slice(0, this.maxBatch);
    const wait = this.windowMs - (performance.now() - head.enqueued);
    if (same.length < this.maxBatch && wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.pump();
      }, wait);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = this.queue.filter((j) => !same.includes(j));
    same.forEach((j, i) => {
      j.slot = i;
      Atomics.store(this.cancel, i, 0);
    });
    const id = this.nextBatch++;
    this.running = { id, jobs: same, kind: head.kind };
    const msg: ToWorker =
      head.kind === 'classify'
        ? { type: 'classify', batch: id, model: head.model, rows: same.map((j) => j.row as ClassifyRow) }
        : {
            type: 'generate',
            batch: id,
            model: head.model,
            rows: same.map((j) => j.row as GenerateRow),
            stream: same.map((j) => j.stream),
          };
    this.worker.postMessage(msg);
  }

  private onMessage(m: FromWorker): void {
    const r = this.running;
    if (!r || (m.type !== 'text' && m.type !== 'done') || m.batch !== r.id) return;
    if (m.type === 'text') {
      const j = r.jobs[m.row];
      if (!j.cancelled) j.onText?.(m.delta);
      return;
    }
    this.running = null;
    r.jobs.forEach((j, i) => j.settle(m.results[i] as RowResult<unknown>));
    this.onBatch?.({ kind: r.kind, rows: r.jobs.length, ms: m.ms, results: m.results as RowResult<unknown>[] });
    this.pump();
    this.checkIdle();
  }

  private fatal(why: string): void {
    if (this.broken) return;
    this.broken = why;
    const e = new ServeError(why, 500, 'server_error', null, 'internal_error');
    for (const j of [...(this.running?.jobs ?? []), ...this.queue]) j.fail(e);
    this.running = null;
    this.queue = [];
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.running || this.queue.length) return;
    this.idleWaiters.splice(0).forEach((w) => w());
  }

  /** Resolves when nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (!this.running && !this.queue.length) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops the model thread (what is queued or running fails); await idle() first to finish it. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.fatal('the server is closing');
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const t = setTimeout(() => void this.worker.terminate(), 5000);
    await this.exited;
    clearTimeout(t);
  }
}
