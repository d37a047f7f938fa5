// One queue job per run of a grid: its id is a hash of the run's full configuration (the same
// grid submitted again adds nothing), its data what a worker needs to run it, its progress what
// the submitter shows.
import crypto from 'node:crypto';
import path from 'node:path';
import type { GridRun } from '../experiments/experiment.js';
import type { RunResult } from '../experiments/report.js';

export interface RunJobData extends GridRun {
  /** the submitter's experiment folder (a worker's --out-root stands for it) */
  experimentOut: string;
}

/** What a job returns: its run's result and the job's own id. */
export interface JobResult extends RunResult {
  jobId: string;
}

export interface RunProgress {
  state: 'starting' | 'training' | 'evaluating' | 'done';
  step?: number;
  total?: number;
  loss?: number;
  /** seconds left in this phase, from its rate so far */
  etaS?: number;
  done?: number;
  /** host:pid of the worker process */
  worker: string;
  /** pid of the process running the run (the worker's sandboxed child) */
  pid?: number;
}

/** JSON with sorted keys: the same configuration always hashes the same. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export function jobId(g: GridRun): string {
  return `run-${crypto.createHash('sha256').update(stable(g.run)).digest('hex').slice(0, 32)}`;
}

/** Where a worker writes the run: under its --out-root when it has one (the same shared storage, mounted elsewhere). */
export function runFolderOn(data: RunJobData, outRoot: string | undefined): string {
  if (!outRoot) return data.run.out;
  return path.join(outRoot, path.relative(data.experimentOut, data.run.out));
}
