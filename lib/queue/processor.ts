// One queued run, in BullMQ's sandboxed child process: the worker's own process keeps the job's
// lock renewed while this one is busy in native code for minutes. It runs the local path's
// runSetting with resume on (a run another worker left continues from its last checkpoint),
// reports progress to the job, and fails unrecoverably for deterministic errors (a bad config or
// a missing model is not retried).
import os from 'node:os';
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { ConfigError, FormatError, ArgumentError, ShapeError, DTypeError } from '../errors.js';
import { runSetting } from '../experiments/run.js';
import { finishedResult } from '../experiments/experiment.js';
import type { RunResult } from '../experiments/report.js';
import { runFolderOn, type JobResult, type RunJobData, type RunProgress } from './jobs.js';

const parent = process.ppid;
const worker = `${os.hostname()}:${parent}`;

// The worker died (SIGKILL, a crash): its IPC channel closes. Exit now, whatever this process is
// doing — a run left going would write into a folder another worker now holds (its checkpoints
// are atomic: the next holder resumes). BullMQ's child has no handler of its own for this (seen:
// children of killed workers still alive an hour later, each spinning a core at 3.5 GB, deaf to
// SIGTERM while "a job" was in progress).
process.on('disconnect', () => process.exit(70));

/**
 * A message to the worker (progress, a job log line: promises, though SandboxedJob types `log` as
 * void) that fails when the worker is gone: never an unhandled rejection.
 */
function toWorker(sent: unknown): void {
  Promise.resolve(sent).catch(() => {});
}
/** progress reports to the job at most this often (PLF_PROGRESS_MS, default 1 s) */
const progressMs = /^\d+$/.test(process.env.PLF_PROGRESS_MS ?? '') ? Number(process.env.PLF_PROGRESS_MS) : 1000;

/** Deterministic failures: the same run fails the same way on any worker, every time. */
function deterministic(e: unknown): boolean {
  if (e instanceof ConfigError) return e.code !== 'PLF_LOCKED'; // a locked folder frees up
  return e instanceof FormatError || e instanceof ArgumentError || e instanceof ShapeError || e instanceof DTypeError;
}

/** how long a run waits for a live process on this host that holds its folder (PLF_LOCK_WAIT_MS, default 1 h) */
const lockWaitMs = /^\d+$/.test(process.env.PLF_LOCK_WAIT_MS ?? '') ? Number(process.env.PLF_LOCK_WAIT_MS) : 3_600_000;

/**
 * fn(), waiting while its run folder is held by a live process on this host: after Redis lost the
 * jobs, the worker that ran one may still be finishing it when the resubmitted job arrives. Waiting
 * (not failing an attempt) lets that run end; its finished result is then taken as is.
 */
/** A run another job finished while this one waited for its folder's lock. */
class FinishedMeanwhile extends Error {
  constructor(readonly result: RunResult) {
    super('finished meanwhile');
  }
}

async function lockedRetry<T>(fn: () => Promise<T>, log: (m: string) => void = () => {}): Promise<T> {
  const until = Date.now() + lockWaitMs;
  for (let said = false; ;) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ConfigError && e.code === 'PLF_LOCKED') || Date.now() > until) throw e;
      if (!said) log(`${worker}: ${e.message}; waiting for it`);
      said = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export default async function processRun(job: SandboxedJob<RunJobData, JobResult>): Promise<JobResult> {
  const data = job.data;
  // every result names its job: the submitter checks that a completed job holds its own run's
  const mine = (r: RunResult): JobResult => ({ ...r, jobId: String(job.id) });
  const out = runFolderOn(data, process.env.PLF_OUT_ROOT || undefined);
  const done = finishedResult(data, out);
  if (done) return mine(done);
  const device = process.env.PLF_WORKER_DEVICE as 'cpu' | 'cuda' | undefined;
  let last = 0,
    t0 = Date.now(),
    phase: RunProgress['state'] = 'starting';
  const report = (p: Omit<RunProgress, 'worker'>, force = false) => {
    // a worker killed with SIGKILL leaves this process behind: it stops at its next step instead of
    // writing into a run another worker now holds
    if (process.ppid !== parent) process.exit(70);
    if (p.state !== phase) {
      phase = p.state;
      t0 = Date.now();
    }
    const now = Date.now();
    if (!force && now - last < progressMs) return;
    last = now;
    toWorker(job.updateProgress({ ...p, worker, pid: process.pid } satisfies RunProgress));
  };
  const eta = (d: number, n: number) => (d > 0 ? ((Date.now() - t0) / 1000 / d) * (n - d) : undefined);
  report({ state: 'starting' }, true);
  let trainS = 0,
    timed = 0;
  try {
    const got = await lockedRetry(
      async () => {
        const fin = finishedResult(data, out); // the holder we waited for may have finished this run
        if (fin) return { fin };
        try {
          return {
            run: await runSetting({
              ...data.run,
              out,
              device: device ?? data.run.device,
              // and it may finish between that check and our lock: a resumed run would retrain over it
              underLock: () => {
                const f = finishedResult(data, out);
                if (f) throw new FinishedMeanwhile(f);
              },
              takeOverLock: true, // BullMQ gives a job to one worker at a time: a lock another host left is stale
              hooks: {
                onInfo: (m) => toWorker(job.log(`${worker}: ${m}`)),
                onStep: (s) => {
                  // the ETA from step time only (evaluations between steps are not training)
                  if (s.seconds) {
                    trainS += s.seconds;
                    timed++;
                  }
                  report({
                    state: 'training',
                    step: s.step,
                    total: s.total,
                    loss: s.loss,
                    etaS: timed ? (trainS / timed) * (s.total - s.step) : undefined,
                  });
                },
                onEval: (s) =>
                  toWorker(
                    job.log(`${worker}: eval at step ${s.step}: loss ${s.loss?.toFixed(4) ?? '–'}, F1-macro ${(100 * s.f1).toFixed(2)}`),
                  ),
                onEvalProgress: (d, n) => report({ state: 'evaluating', done: d, total: n, etaS: eta(d, n) }),
              },
            }),
          };
        } catch (e) {
          if (e instanceof FinishedMeanwhile) return { fin: e.result };
          throw e;
        }
      },
      (m) => toWorker(job.log(m)),
    );
    if (got.fin) return mine(got.fin);
    const { eval: _e, ...r } = got.run!;
    report({ state: 'done' }, true);
    return mine({ ...r, dataset: data.dataset, model: data.model });
  } catch (e) {
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    if (deterministic(e)) throw new UnrecoverableError(msg);
    throw e;
  }
}
