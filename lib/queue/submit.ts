// `plf-native experiment --queue`: the grid's runs as queue jobs (finished runs skipped, the same
// run never queued twice), followed until every run has finished or failed, then the same
// results.json/csv, tables.md, f1.svg and gains.svg as the local path. A job that vanishes (Redis restarted
// without persistence) is queued again: its run folder keeps its checkpoints.
import { Queue, type Job } from 'bullmq';
import { gridRuns, finishedResult, type ExperimentConfig, type GridRun } from '../experiments/experiment.js';
import { writeReport, type RunResult } from '../experiments/report.js';
import { checkReachable, connect, redisTarget, throttled, QueueError, QUEUE_NAME } from './connection.js';
import { jobId, type JobResult, type RunJobData, type RunProgress } from './jobs.js';

export interface RunStatus {
  name: string;
  id: string;
  /** 'finished' (its folder has metrics.json), BullMQ's job state, or 'not queued' */
  state: string;
  progress: RunProgress | null;
  attempts: number;
  error: string | null;
}

export interface SubmitOptions {
  queue: string;
  /** only enqueue */
  detach?: boolean;
  /** attempts for transient failures (default 3, exponential backoff from 10 s) */
  attempts?: number;
  backoffMs?: number;
  /** how often the grid is looked at, ms (default 500) */
  pollMs?: number;
  log?: (msg: string) => void;
  /** every poll: where each run stands */
  onStatus?: (rows: RunStatus[]) => void;
}

async function withQueue<T>(url: string, log: (m: string) => void, fn: (q: Queue) => Promise<T>): Promise<T> {
  const t = redisTarget(url);
  await checkReachable(t);
  const connection = connect(t, (e) => log(e.message));
  const q = new Queue(QUEUE_NAME, { connection });
  // BullMQ prints errors nobody listens to; said here at most every 10 s while Redis is away
  const say = throttled(log);
  q.on('error', (e) => say(`Redis at ${t.shown}: ${e.message} (waiting for it to come back)`));
  try {
    return await fn(q);
  } finally {
    await q.close();
    connection.disconnect();
  }
}

const data = (c: ExperimentConfig, g: GridRun): RunJobData => ({ ...g, experimentOut: c.out });

async function add(q: Queue, c: ExperimentConfig, g: GridRun, o: SubmitOptions): Promise<void> {
  await q.add(g.name, data(c, g), {
    jobId: jobId(g),
    attempts: o.attempts ?? 3,
    backoff: { type: 'exponential', delay: o.backoffMs ?? 10_000 },
    removeOnComplete: false,
    removeOnFail: false,
  });
}

/** A completed job's result when it is this run's (the job's own id, dataset, model and setting), else null. */
function resultOf(r: Partial<JobResult> | null | undefined, g: GridRun): RunResult | null {
  if (!r || (r.jobId !== undefined && r.jobId !== jobId(g))) return null;
  const { jobId: _id, ...result } = r;
  return result.dataset === g.dataset && result.model === g.model && result.setting === g.run.setting ? (result as RunResult) : null;
}

async function statusOf(q: Queue, g: GridRun): Promise<{ row: RunStatus; job: Job | undefined }> {
  const id = jobId(g);
  // The state first, then the job: a job read before it moved to failed (or completed) lacks
  // its failedReason (returnvalue), which BullMQ writes in the same step as the move.
  const state = await q.getJobState(id);
  const job = await q.getJob(id);
  const base = { name: g.name, id, progress: null, attempts: 0, error: null };
  if (!job || state === 'unknown') return { row: { ...base, state: finishedResult(g) ? 'finished' : 'not queued' }, job: undefined };
  const p = job.progress;
  return {
    row: {
      ...base,
      state,
      progress: p && typeof p === 'object' ? (p as RunProgress) : null,
      attempts: job.attemptsMade,
      error: job.failedReason ?? null,
    },
    job,
  };
}

/** Queues every unfinished run; unless detached, follows them and writes the report. Returns the results (null when detached). */
export async function submitGrid(c: ExperimentConfig, o: SubmitOptions): Promise<RunResult[] | null> {
  const runs = gridRuns(c);
  const log = o.log ?? (() => {});
  return withQueue(o.queue, log, async (q) => {
    let added = 0;
    for (const g of runs) {
      if (finishedResult(g)) continue;
      const had = await q.getJob(jobId(g));
      if (had) continue;
      await add(q, c, g, o);
      added++;
    }
    log(`queued ${added} run(s); ${runs.length - added} already queued or finished`);
    if (o.detach) return null;
    const results = new Map<string, RunResult>();
    const failed = new Map<string, string>();
    for (;;) {
      const rows: RunStatus[] = [];
      for (const g of runs) {
        if (results.has(g.name) || failed.has(g.name)) {
          rows.push({
            name: g.name,
            id: jobId(g),
            state: results.has(g.name) ? 'finished' : 'failed',
            progress: null,
            attempts: 0,
            error: failed.get(g.name) ?? null,
          });
          continue;
        }
        const { row, job } = await statusOf(q, g);
        if (row.state === 'completed' || row.state === 'finished') {
          const got: Partial<JobResult> | null = (job?.returnvalue as Partial<JobResult> | null | undefined) ?? finishedResult(g);
          const mine = resultOf(got, g);
          if (mine) {
            rows.push({ ...row, state: 'finished' });
            results.set(g.name, mine);
            continue;
          }
          // BullMQ's sandbox can hand a child still busy with a lost job (Redis restarted) the next
          // one, and that job then completes with the lost job's result while its own run goes on
          // (seen once: d2's job completed with d1's result, d2's folder held only its lock)
          log(
            `${g.name}: its job completed ${got ? `with another run's result (${got.dataset}/${got.model}/${got.setting}, job ${got.jobId ?? '?'})` : 'without a result'}: queued again`,
          );
          await job?.remove();
          await add(q, c, g, o);
          rows.push({ ...row, state: 'waiting' });
          continue;
        }
        rows.push(row);
        if (row.state === 'failed') failed.set(g.name, row.error ?? 'failed');
        else if (row.state === 'not queued') {
          log(`${g.name}: its job is gone from Redis (restarted without persistence?): queued again`);
          await add(q, c, g, o);
        }
      }
      o.onStatus?.(rows);
      if (results.size + failed.size === runs.length) break;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
    }
    const ordered = runs.flatMap((g) => (results.has(g.name) ? [{ ...results.get(g.name)!, dataset: g.dataset, model: g.model }] : []));
    writeReport(c.out, ordered);
    if (failed.size)
      throw new QueueError(
        `${failed.size} of ${runs.length} run(s) failed (the report holds the others):\n` +
          [...failed].map(([n, e]) => `  ${n}: ${e}`).join('\n'),
      );
    return ordered;
  });
}

/** Where every run of the grid stands. */
export async function gridStatus(c: ExperimentConfig, queue: string, log: (m: string) => void = () => {}): Promise<RunStatus[]> {
  const runs = gridRuns(c);
  return withQueue(queue, log, async (q) => Promise.all(runs.map(async (g) => (await statusOf(q, g)).row)));
}

/** Removes the grid's runs that wait (or wait to retry); running ones finish. Returns what was removed. */
export async function cancelGrid(c: ExperimentConfig, queue: string, log: (m: string) => void = () => {}): Promise<string[]> {
  const runs = gridRuns(c);
  return withQueue(queue, log, async (q) => {
    const removed: string[] = [];
    for (const g of runs) {
      const { row, job } = await statusOf(q, g);
      if (job && ['waiting', 'delayed', 'prioritized', 'paused'].includes(row.state)) {
        await job.remove();
        removed.push(g.name);
      }
    }
    return removed;
  });
}

/** One line per run: name, state, step/total, loss, ETA, worker (what the CLI prints). */
export function formatStatus(rows: RunStatus[]): string[] {
  const w = Math.max(...rows.map((r) => r.name.length));
  return rows.map((r) => {
    const p = r.progress;
    const parts = [r.name.padEnd(w), r.state.padEnd(10)];
    if (p && (r.state === 'active' || r.state === 'waiting')) {
      if (p.state === 'training' && p.total) parts.push(`step ${p.step}/${p.total}`, `loss ${p.loss?.toFixed(4)}`);
      else if (p.state === 'evaluating' && p.total) parts.push(`eval ${p.done}/${p.total}`);
      else parts.push(p.state);
      if (p.etaS !== undefined) parts.push(`ETA ${Math.round(p.etaS)} s`);
      parts.push(`on ${p.worker}`);
    }
    if (r.attempts > 1 || (r.state === 'delayed' && r.error)) parts.push(`attempt ${r.attempts + 1}`);
    if (r.error && (r.state === 'failed' || r.state === 'delayed')) parts.push(`— ${r.error}`);
    return parts.join('  ');
  });
}
